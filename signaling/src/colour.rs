//! Identity: initials from a name and a colour distinct within the room.

/// Colour-blind-safe palette (Okabe–Ito, then Paul Tol's muted scheme), first choice first.
pub const PALETTE: [&str; 15] = [
    "#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442", "#882255",
    "#44AA99", "#332288", "#999933", "#AA4499", "#117733", "#88CCEE", "#CC6677",
];

/// Picks a colour not in `taken`: `preferred` if free, else the first free palette
/// colour, else a generated one (golden-angle hues) that nobody has.
pub fn pick(taken: &[&str], preferred: Option<&str>) -> String {
    if let Some(p) = preferred.filter(|p| !taken.contains(p)) {
        return p.to_owned();
    }
    if let Some(c) = PALETTE.iter().find(|c| !taken.contains(c)) {
        return (*c).to_owned();
    }
    (0u32..)
        .map(generated)
        .find(|c| !taken.contains(&c.as_str()))
        .expect("an unbounded sequence of distinct hues has a free one")
}

/// The `i`-th generated colour: hue stepped by the golden angle, two lightness bands.
fn generated(i: u32) -> String {
    let hue = (f64::from(i) * 137.507_764 + 15.0) % 360.0;
    let light = if i % 2 == 0 { 0.42 } else { 0.55 };
    let (r, g, b) = hsl_to_rgb(hue, 0.6, light);
    // Wrapping over 360° can collide after many steps; the index keeps it unique.
    let nudge = (i / 720) as u8;
    format!("#{:02X}{:02X}{:02X}", r, g, b.wrapping_add(nudge))
}

fn hsl_to_rgb(h: f64, s: f64, l: f64) -> (u8, u8, u8) {
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let hp = h / 60.0;
    let x = c * (1.0 - (hp % 2.0 - 1.0).abs());
    let (r, g, b) = match hp as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    let to = |v: f64| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    (to(r), to(g), to(b))
}

/// One or two capital letters: first letters of the first and last word.
pub fn initials(name: &str) -> String {
    let words: Vec<&str> = name
        .split(|c: char| c.is_whitespace() || c == '-' || c == '_' || c == '.')
        .filter(|w| !w.is_empty())
        .collect();
    let first = |w: &str| w.chars().next().map(|c| c.to_uppercase().collect::<String>());
    match words.as_slice() {
        [] => "?".to_owned(),
        [one] => first(one).unwrap_or_default(),
        [a, .., z] => format!("{}{}", first(a).unwrap_or_default(), first(z).unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_from_names() {
        assert_eq!(initials("Aino Virtanen"), "AV");
        assert_eq!(initials("matti"), "M");
        assert_eq!(initials("Anna-Liisa de Korhonen"), "AK");
        assert_eq!(initials("  "), "?");
        assert_eq!(initials("élise ørsted"), "ÉØ");
    }

    #[test]
    fn colours_stay_distinct_past_the_palette() {
        let mut taken: Vec<String> = Vec::new();
        for _ in 0..200 {
            let refs: Vec<&str> = taken.iter().map(String::as_str).collect();
            let c = pick(&refs, None);
            assert!(!taken.contains(&c), "{c} reused");
            taken.push(c);
        }
        assert_eq!(taken[0], PALETTE[0]);
    }

    #[test]
    fn preferred_colour_is_kept_when_free() {
        assert_eq!(pick(&[], Some("#0072B2")), "#0072B2");
        assert_eq!(pick(&["#0072B2"], Some("#0072B2")), PALETTE[0]);
    }
}
