//! Identity: initials and a colour, each distinct within the room.
//!
//! A person's colour is theirs, not the order they joined in: the first choice is a
//! palette entry picked by a stable hash of the room and their name, so the same person
//! sees the same colour in every session of the room and after a restart. When it is
//! taken, the next free palette entry after it is used (the same for everyone, so the
//! result depends only on who is in the room).

/// Colour-blind-safe palette (Okabe–Ito, then Paul Tol's muted scheme), first choice first.
pub const PALETTE: [&str; 15] = [
    "#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442", "#882255",
    "#44AA99", "#332288", "#999933", "#AA4499", "#117733", "#88CCEE", "#CC6677",
];

/// The colour `name` gets first in `room`: a palette entry by a stable hash (FNV-1a,
/// the same on every build and run) of both.
pub fn preferred(room: &str, name: &str) -> &'static str {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in room.bytes().chain([0xff]).chain(name.trim().to_lowercase().bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    PALETTE[(h % PALETTE.len() as u64) as usize]
}

/// Whether `c` is a colour as rooms hand them out: `#RRGGBB`, upper-case hex.
pub fn is_colour(c: &str) -> bool {
    c.len() == 7
        && c.starts_with('#')
        && c[1..].bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
}

/// Picks a colour not in `taken`: `preferred` if free, else the next free palette
/// colour after it (from the start of the palette when `preferred` is not in it), else
/// a generated one (golden-angle hues) that nobody has.
pub fn pick(taken: &[&str], preferred: Option<&str>) -> String {
    if let Some(p) = preferred.filter(|p| !taken.contains(p)) {
        return p.to_owned();
    }
    let start = preferred.and_then(|p| PALETTE.iter().position(|c| *c == p)).unwrap_or(0);
    let rotated = PALETTE.iter().cycle().skip(start).take(PALETTE.len());
    if let Some(c) = rotated.into_iter().find(|c| !taken.contains(c)) {
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
    let light = if i.is_multiple_of(2) { 0.42 } else { 0.55 };
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

/// Initials for `name` that nobody in `taken` has: the usual one or two letters; on a
/// clash the first word's first two letters and the last word's first ("AiV"); then a
/// number ("AV2", "AV3", …).
pub fn unique_initials(name: &str, taken: &[&str]) -> String {
    let plain = initials(name);
    if !taken.contains(&plain.as_str()) {
        return plain;
    }
    let words: Vec<&str> = name
        .split(|c: char| c.is_whitespace() || c == '-' || c == '_' || c == '.')
        .filter(|w| !w.is_empty())
        .collect();
    if let Some(first) = words.first() {
        let mut chars = first.chars();
        let longer: String = chars
            .next()
            .map(|c| c.to_uppercase().collect::<String>())
            .into_iter()
            .chain(chars.next().map(|c| c.to_lowercase().collect::<String>()))
            .chain(
                words
                    .get(1..)
                    .and_then(|rest| rest.last())
                    .and_then(|w| w.chars().next())
                    .map(|c| c.to_uppercase().collect::<String>()),
            )
            .collect();
        if longer.chars().count() > plain.chars().count() && !taken.contains(&longer.as_str()) {
            return longer;
        }
    }
    (2u32..)
        .map(|n| format!("{plain}{n}"))
        .find(|c| !taken.contains(&c.as_str()))
        .expect("an unbounded sequence of numbers has a free one")
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
        assert_eq!(pick(&["#0072B2"], Some("#0072B2")), "#D55E00", "the next one after it");
        assert_eq!(
            pick(&["#123456"], Some("#123456")),
            PALETTE[0],
            "one not in the palette: from the start"
        );
    }

    #[test]
    fn initials_are_unique_in_a_room() {
        assert_eq!(unique_initials("Aino Virtanen", &[]), "AV");
        assert_eq!(unique_initials("Anna Virta", &["AV"]), "AnV");
        assert_eq!(unique_initials("Aino", &["A"]), "Ai");
        assert_eq!(unique_initials("Anna Virta", &["AV", "AnV"]), "AV2");
        assert_eq!(unique_initials("A", &["A"]), "A2");
    }

    #[test]
    fn a_person_prefers_the_same_colour_in_a_room_every_time() {
        assert_eq!(preferred("course-1", "Aino"), preferred("course-1", " aino "));
        let spread: std::collections::HashSet<&str> =
            (0..40).map(|i| preferred("course-1", &format!("Person {i}"))).collect();
        assert!(spread.len() > 8, "names spread over the palette: {spread:?}");
        // Taken: the next free one after it, the same for everyone.
        let first = preferred("course-1", "Aino");
        let next = pick(&[first], Some(first));
        let at = PALETTE.iter().position(|c| *c == first).unwrap();
        assert_eq!(next, PALETTE[(at + 1) % PALETTE.len()]);
    }
}
