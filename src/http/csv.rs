//! CSV export of a session report, one table at a time, safe to open in a spreadsheet:
//! fields are quoted where needed and a name that starts like a formula is prefixed
//! with `'` so it stays text.

use std::fmt::Write as _;

use serde_json::Value;

use crate::store::reports::StoredReport;

/// The table `name` (`people`, `turns` or `hands`) of `report`, or `None` for another.
pub(super) fn table(report: &StoredReport, name: &str) -> Option<String> {
    let r = &report.report;
    let who = |id| {
        r.people
            .iter()
            .find(|p| p.stats.participant == id)
            .map_or(String::new(), |p| p.stats.name.clone())
    };
    let ms = |v: Option<u64>| v.map_or(String::new(), |n| n.to_string());
    let mut rows: Vec<Vec<String>> = Vec::new();
    match name {
        "people" => {
            rows.push(cols(&[
                "name",
                "role",
                "colour",
                "present",
                "talk_ms",
                "turns",
                "reactions_given",
                "reactions_received",
                "wait_ms",
            ]));
            for p in &r.people {
                let s = &p.stats;
                rows.push(vec![
                    s.name.clone(),
                    word(&p.role),
                    s.colour.clone(),
                    s.present.to_string(),
                    s.talk_ms.to_string(),
                    s.turns.to_string(),
                    s.reactions_given.to_string(),
                    s.reactions_received.to_string(),
                    s.wait_ms.to_string(),
                ]);
            }
        }
        "turns" => {
            rows.push(cols(&[
                "turn",
                "holder",
                "start_ms",
                "end_ms",
                "ended",
                "agree",
                "disagree",
                "question",
                "applause",
                "slower",
                "cant_hear",
            ]));
            for t in &r.turns {
                let k = &t.tally;
                rows.push(vec![
                    t.turn.0.to_string(),
                    who(t.holder),
                    t.start_ms.to_string(),
                    ms(t.end_ms),
                    t.ended.as_ref().map_or(String::new(), word),
                    k.agree.to_string(),
                    k.disagree.to_string(),
                    k.question.to_string(),
                    k.applause.to_string(),
                    k.slower.to_string(),
                    k.cant_hear.to_string(),
                ]);
            }
        }
        "hands" => {
            rows.push(cols(&[
                "name",
                "kind",
                "raised_ms",
                "offered_ms",
                "ended_ms",
                "outcome",
                "wait_ms",
            ]));
            for h in &r.hands {
                rows.push(vec![
                    who(h.participant),
                    word(&h.kind),
                    h.raised_ms.to_string(),
                    ms(h.offered_ms),
                    ms(h.ended_ms),
                    word(&h.outcome),
                    h.wait_ms.to_string(),
                ]);
            }
        }
        _ => return None,
    }
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row.iter().map(|f| field(f)).collect();
        let _ = write!(out, "{}\r\n", line.join(","));
    }
    Some(out)
}

fn cols(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// One CSV field: formula-like text kept as text, quoted when it holds a separator.
fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) && text.parse::<f64>().is_err()
    {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// Serde's snake_case name of a unit enum value (`time_limit`, `new_point`).
fn word<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn a_field_is_quoted_and_a_formula_stays_text() {
        assert_eq!(field("Aino"), "Aino");
        assert_eq!(field("Virtanen, Aino"), "\"Virtanen, Aino\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("-12"), "-12");
        assert_eq!(field("@cmd"), "'@cmd");
    }
}
