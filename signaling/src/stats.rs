//! Talk-time balance.

/// Gini coefficient of non-negative values: 0 when all are equal, approaching 1 when one
/// value holds everything. Zero for an empty set or all zeros.
pub fn gini(values: &[u64]) -> f64 {
    let n = values.len();
    let total: u128 = values.iter().map(|&v| u128::from(v)).sum();
    if n < 2 || total == 0 {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    // G = (2 Σ i·x_i) / (n Σ x_i) − (n + 1) / n, with i from 1 over ascending x.
    let weighted: u128 =
        sorted.iter().enumerate().map(|(i, &v)| (i as u128 + 1) * u128::from(v)).sum();
    let n = n as f64;
    (2.0 * weighted as f64) / (n * total as f64) - (n + 1.0) / n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gini_bounds() {
        assert_eq!(gini(&[]), 0.0);
        assert_eq!(gini(&[5, 5, 5]), 0.0);
        assert!((gini(&[0, 0, 0, 10]) - 0.75).abs() < 1e-9);
        let g = gini(&[1, 2, 3, 4]);
        assert!((g - 0.25).abs() < 1e-9, "{g}");
    }
}
