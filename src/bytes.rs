//! 256-entry byte tables for the text hot loops: one load per byte instead of range tests.

/// A class for every byte value, built at compile time with [`byte_table!`].
pub(crate) struct ByteTable(pub(crate) [u8; 256]);

impl ByteTable {
    /// The class of a byte.
    #[inline(always)]
    #[allow(clippy::indexing_slicing)] // a u8 indexes a 256-entry table: always in range
    pub(crate) const fn get(&self, b: u8) -> u8 {
        self.0[b as usize]
    }
}

/// Builds a [`ByteTable`] from an expression of the byte: `byte_table!(|b| if b < 0x80 { 1 } else { 0 })`.
macro_rules! byte_table {
    (|$b:ident| $class:expr) => {{
        let mut table = [0u8; 256];
        let mut i = 0;
        while i < 256 {
            let $b = i as u8;
            #[allow(clippy::indexing_slicing)] // evaluated at compile time: out of range fails the build
            {
                table[i] = $class;
            }
            i += 1;
        }
        $crate::bytes::ByteTable(table)
    }};
}
pub(crate) use byte_table;
