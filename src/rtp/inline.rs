//! Keeping the state the fan-out reads on every forwarded packet close at hand: on a
//! busy server each listener's state is cold when its next packet comes
//! (`docs/design.md`, Media). A short list kept inline ([`Inline`]) saves the cache miss a
//! `Vec` would cost.

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

impl<T: Default, const N: usize> Default for Inline<T, N> {
    fn default() -> Self {
        Self::from_iter_capped([])
    }
}

impl<T, const N: usize> Inline<T, N> {
    /// Appends `value`; gives it back when all `N` places are taken.
    pub fn push(&mut self, value: T) -> Result<(), T> {
        match self.items.get_mut(self.len) {
            Some(place) => {
                *place = value;
                self.len += 1;
                Ok(())
            }
            None => Err(value),
        }
    }

    /// Empties the list (the old values stay in their places until overwritten).
    pub fn clear(&mut self) {
        self.len = 0;
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

    #[test]
    fn push_fills_the_places_then_gives_the_value_back() {
        let mut l = Inline::<u8, 2>::default();
        assert_eq!(l.push(1), Ok(()));
        assert_eq!(l.push(2), Ok(()));
        assert_eq!(l.push(3), Err(3));
        assert_eq!(&*l, &[1, 2]);
        l.clear();
        assert!(l.is_empty());
        assert_eq!(l.push(4), Ok(()));
        assert_eq!(&*l, &[4]);
    }
}
