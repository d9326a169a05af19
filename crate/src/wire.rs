//! One schema for everything that crosses the page boundary: request options, events, settings,
//! the stored state, and what the engine reports back.
//!
//! Each such struct is declared once with [`wire!`](crate::wire!), which writes every field's wire
//! name next to the field: the macro emits the struct with its serde attributes (how the native
//! side reads and writes it as JSON) **and** [`FromReader`] / [`ToWriter`] impls over the names in
//! [`WireStruct::FIELDS`] (how any other reader — the wasm layer's, over JS objects — reads and
//! writes it). Nothing else spells a field name, so the two readers cannot drift apart; the wasm
//! parity test (`tests/web.rs`) feeds one corpus through both.
//!
//! Values that are a number or a keyword (`epsilon: "Infinity"`, `period: "session"`,
//! `candidates: "all"`) are read through [`NumberOrText`] by one core function per type, whatever
//! the reader.
//!
//! The wasm layer has no JSON (de)serializer (it would cost ~13 KB gzip): it implements
//! [`Reader`] and [`Writer`] over JS values directly, so a struct crosses the boundary in one pass.

use serde::Deserialize;

/// One field of a wire struct: its name, and other names it is also read under (never written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
}

/// A struct declared with [`wire!`](crate::wire!): its fields' wire names, in declaration order.
pub trait WireStruct {
    /// Every field, in declaration order.
    const FIELDS: &'static [Field];
}

/// Reads values of one representation (JS values in the wasm layer). A reader is positioned at
/// one value; [`Reader::object`] opens it as an object whose fields [`Reader::field`] reads.
pub trait Reader: Sized {
    /// Reading errors; a core check made while reading (a stored state's envelope) converts in.
    type Error: From<crate::error::VitrineError>;
    /// An opened object.
    type Object;
    /// The value as an object whose keys are all among `fields` (names or aliases; a field given
    /// under two of its names is an error). `undefined`/`null` read as an empty object.
    fn object(self, fields: &'static [Field]) -> Result<Self::Object, Self::Error>;
    /// As [`Reader::object`], but keys not among `fields` are ignored (stored states, whose newer
    /// versions may add fields: their envelope is checked before anything else is read).
    fn lenient_object(self, fields: &'static [Field]) -> Result<Self::Object, Self::Error>;
    /// A reader at field number `index` of `object` (in `fields` order; absent fields, and
    /// indices past the end, read as "nothing"). Each field is read at most once.
    fn field(object: &mut Self::Object, index: usize) -> Self;
}

/// A type that can be read by reader `R`.
pub trait FromReader<R: Reader>: Sized {
    fn from_reader(r: R) -> Result<Self, R::Error>;
}

/// Writes values of one representation (JS values in the wasm layer).
pub trait Writer {
    type Value;
    /// An object of `(name, value)` pairs, in order; `None` values are left out.
    fn object(&mut self, fields: Vec<(&'static str, Option<Self::Value>)>) -> Self::Value;
}

/// A type that can be written by writer `W`.
pub trait ToWriter<W: Writer> {
    fn to_writer(&self, w: &mut W) -> W::Value;
}

/// Whether a field value counts as empty, for structs declared `omit_empty` (their empty fields
/// are left out when written: `None`, `false`). Every other value is never empty.
pub trait WireValue {
    fn is_empty(&self) -> bool {
        false
    }
}

impl<T> WireValue for Option<T> {
    fn is_empty(&self) -> bool {
        self.is_none()
    }
}
impl WireValue for bool {
    fn is_empty(&self) -> bool {
        !*self
    }
}
impl<T> WireValue for Vec<T> {}
impl WireValue for f64 {}
impl WireValue for [f64; 2] {}
impl WireValue for u8 {}
impl<K, V> WireValue for std::collections::BTreeMap<K, V> {}
impl WireValue for f32 {}
impl WireValue for u64 {}
impl WireValue for u32 {}
impl WireValue for usize {}
impl WireValue for String {}
impl WireValue for &'static str {}

/// serde's `skip_serializing_if` for `omit_empty` structs: [`WireValue::is_empty`].
pub fn is_empty<T: WireValue>(value: &T) -> bool {
    value.is_empty()
}

/// What an option that takes a number or a keyword holds, before its type checks it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum NumberOrText {
    Number(f64),
    Text(String),
}

/// Declares a struct that crosses the page boundary, with each field's wire name (and aliases)
/// written once. Optionally `omit_empty;` first: empty fields (`None`, `false`) are left out when
/// written (stored states), instead of written as `null` (status objects).
///
/// ```ignore
/// wire! {
///     /// Doc of the struct.
///     #[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
///     #[serde(deny_unknown_fields)]
///     pub struct PinOption {
///         /// The item id.
///         item: String = "item" | "id",
///         /// Its rank, 1-based.
///         rank: f64 = "rank",
///     }
/// }
/// ```
#[macro_export]
macro_rules! wire {
    (
        omit_empty;
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty = $wire:literal $(| $alias:literal)* ),* $(,)?
        }
    ) => {
        $crate::wire!(@emit true, serde(skip_serializing_if = "crate::wire::is_empty"),
            $(#[$meta])* $vis struct $name { $( $(#[$fmeta])* $field : $ty = $wire $(| $alias)* ),* });
    };
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty = $wire:literal $(| $alias:literal)* ),* $(,)?
        }
    ) => {
        $crate::wire!(@emit false, cfg_attr(any(), allow(unused)),
            $(#[$meta])* $vis struct $name { $( $(#[$fmeta])* $field : $ty = $wire $(| $alias)* ),* });
    };
    (
        @emit $omit:literal, $omit_attr:meta,
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty = $wire:literal $(| $alias:literal)* ),*
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $(
                $(#[$fmeta])*
                #[serde(rename = $wire $(, alias = $alias)*)]
                #[$omit_attr]
                pub $field: $ty,
            )*
        }

        impl $crate::wire::WireStruct for $name {
            const FIELDS: &'static [$crate::wire::Field] = &[
                $( $crate::wire::Field { name: $wire, aliases: &[$($alias),*] } ),*
            ];
        }

        impl $crate::wire::WireValue for $name {}

        impl<R: $crate::wire::Reader> $crate::wire::FromReader<R> for $name
        where
            $( $ty: $crate::wire::FromReader<R>, )*
        {
            fn from_reader(r: R) -> Result<Self, R::Error> {
                let mut object = r.object(<Self as $crate::wire::WireStruct>::FIELDS)?;
                let mut index = 0usize;
                let mut next = |object: &mut R::Object| {
                    index += 1;
                    R::field(object, index - 1)
                };
                Ok(Self {
                    $(
                        $field: <$ty as $crate::wire::FromReader<R>>::from_reader(next(&mut object))?,
                    )*
                })
            }
        }

        impl<W: $crate::wire::Writer> $crate::wire::ToWriter<W> for $name
        where
            $( $ty: $crate::wire::ToWriter<W> + $crate::wire::WireValue, )*
        {
            fn to_writer(&self, w: &mut W) -> W::Value {
                let fields = vec![
                    $(
                        (
                            $wire,
                            if $omit && $crate::wire::WireValue::is_empty(&self.$field) {
                                None
                            } else {
                                Some($crate::wire::ToWriter::<W>::to_writer(&self.$field, w))
                            },
                        ),
                    )*
                ];
                w.object(fields)
            }
        }
    };
}
