//! A short list kept inline, for state the fan-out reads on every forwarded packet: on a
//! busy server each listener's state is cold when its next packet comes, and a `Vec`
//! would cost one more cache miss per listener (`docs/design.md`, Media).

use std::ops::{Deref, DerefMut};

/// Up to `N` values of `T`, inline; derefs to the ones in use.
#[derive(Debug, Clone)]
pub struct Inline<T, const N: usize> {
    items: [T; N],
    len: usize,
}

impl<T: Default, const N: usize> Inline<T, N> {
    /// The first `N` values of `values` (any more are left out).
    pub fn from_iter_capped(values: impl IntoIterator<Item = T>) -> Self {
        let mut list = Inline { items: std::array::from_fn(|_| T::default()), len: 0 };
        for (slot, v) in list.items.iter_mut().zip(values) {
            *slot = v;
            list.len += 1;
        }
        list
    }
}

impl<T, const N: usize> Deref for Inline<T, N> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.items[..self.len]
    }
}

impl<T, const N: usize> DerefMut for Inline<T, N> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.items[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_at_most_n_in_order() {
        let mut l = Inline::<u8, 3>::from_iter_capped([1, 2, 3, 4]);
        assert_eq!(&*l, &[1, 2, 3]);
        l[1] = 9;
        assert_eq!(&*l, &[1, 9, 3]);
        assert!(Inline::<u8, 3>::from_iter_capped([]).is_empty());
    }
}
