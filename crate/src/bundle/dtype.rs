//! safetensors dtype names, both ways (`"I8"` ↔ `Dtype::I8`): what headers contain, what
//! digests hash and what messages print. Shared by the container, the digest and the reader, so
//! none of them depends on another for it.

use safetensors::Dtype;

/// The name of a dtype as written in a safetensors header (`"I8"`, `"F32"`, …).
pub(crate) fn name(dtype: Dtype) -> String {
    // The enum's Debug form is its variant name, exactly what headers contain.
    format!("{dtype:?}")
}

/// The dtype with this safetensors name.
pub(crate) fn parse(name: &str) -> Option<Dtype> {
    Some(match name {
        "BOOL" => Dtype::BOOL,
        "F4" => Dtype::F4,
        "F6_E2M3" => Dtype::F6_E2M3,
        "F6_E3M2" => Dtype::F6_E3M2,
        "U8" => Dtype::U8,
        "I8" => Dtype::I8,
        "F8_E5M2" => Dtype::F8_E5M2,
        "F8_E4M3" => Dtype::F8_E4M3,
        "F8_E8M0" => Dtype::F8_E8M0,
        "F8_E4M3FNUZ" => Dtype::F8_E4M3FNUZ,
        "F8_E5M2FNUZ" => Dtype::F8_E5M2FNUZ,
        "I16" => Dtype::I16,
        "U16" => Dtype::U16,
        "F16" => Dtype::F16,
        "BF16" => Dtype::BF16,
        "I32" => Dtype::I32,
        "U32" => Dtype::U32,
        "F32" => Dtype::F32,
        "C64" => Dtype::C64,
        "F64" => Dtype::F64,
        "I64" => Dtype::I64,
        "U64" => Dtype::U64,
        _ => return None,
    })
}
