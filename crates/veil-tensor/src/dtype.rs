//! Element data types and their Open Inference Protocol names.

use std::fmt;
use std::str::FromStr;

use half::f16;
use serde::{Deserialize, Serialize};

/// The element type of a tensor.
///
/// These are the ONNX tensor types that numpy can represent, named on the wire
/// as the Open Inference Protocol names them (`FP32`, `INT64`, `BOOL`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[non_exhaustive]
pub enum DataType {
    /// Boolean, one byte per element (0 or 1).
    Bool,
    /// Unsigned 8-bit integer.
    U8,
    /// Unsigned 16-bit integer.
    U16,
    /// Unsigned 32-bit integer.
    U32,
    /// Unsigned 64-bit integer.
    U64,
    /// Signed 8-bit integer.
    I8,
    /// Signed 16-bit integer.
    I16,
    /// Signed 32-bit integer.
    I32,
    /// Signed 64-bit integer.
    I64,
    /// IEEE 754 half precision.
    F16,
    /// IEEE 754 single precision.
    F32,
    /// IEEE 754 double precision.
    F64,
}

impl DataType {
    /// Every supported data type, in a stable order.
    pub const ALL: [DataType; 12] = [
        DataType::Bool,
        DataType::U8,
        DataType::U16,
        DataType::U32,
        DataType::U64,
        DataType::I8,
        DataType::I16,
        DataType::I32,
        DataType::I64,
        DataType::F16,
        DataType::F32,
        DataType::F64,
    ];

    /// Size of one element in bytes.
    pub fn size(self) -> usize {
        match self {
            DataType::Bool | DataType::U8 | DataType::I8 => 1,
            DataType::U16 | DataType::I16 | DataType::F16 => 2,
            DataType::U32 | DataType::I32 | DataType::F32 => 4,
            DataType::U64 | DataType::I64 | DataType::F64 => 8,
        }
    }

    /// The Open Inference Protocol name (`FP32`, `INT64`, `BOOL`, …).
    pub fn oip_name(self) -> &'static str {
        match self {
            DataType::Bool => "BOOL",
            DataType::U8 => "UINT8",
            DataType::U16 => "UINT16",
            DataType::U32 => "UINT32",
            DataType::U64 => "UINT64",
            DataType::I8 => "INT8",
            DataType::I16 => "INT16",
            DataType::I32 => "INT32",
            DataType::I64 => "INT64",
            DataType::F16 => "FP16",
            DataType::F32 => "FP32",
            DataType::F64 => "FP64",
        }
    }

    /// The numpy dtype name (`float32`, `int64`, `bool`, …).
    pub fn numpy_name(self) -> &'static str {
        match self {
            DataType::Bool => "bool",
            DataType::U8 => "uint8",
            DataType::U16 => "uint16",
            DataType::U32 => "uint32",
            DataType::U64 => "uint64",
            DataType::I8 => "int8",
            DataType::I16 => "int16",
            DataType::I32 => "int32",
            DataType::I64 => "int64",
            DataType::F16 => "float16",
            DataType::F32 => "float32",
            DataType::F64 => "float64",
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.oip_name())
    }
}

/// A data type name that Veil does not support.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unsupported datatype `{0}` (supported: BOOL, UINT8..UINT64, INT8..INT64, FP16, FP32, FP64)"
)]
pub struct UnknownDataType(pub String);

impl FromStr for DataType {
    type Err = UnknownDataType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DataType::ALL
            .into_iter()
            .find(|d| d.oip_name() == s)
            .ok_or_else(|| UnknownDataType(s.chars().take(32).collect()))
    }
}

impl TryFrom<String> for DataType {
    type Error = UnknownDataType;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<DataType> for String {
    fn from(d: DataType) -> String {
        d.oip_name().to_owned()
    }
}

/// A Rust type that is the element of a tensor of one [`DataType`].
pub trait Element: Copy + Send + Sync + 'static {
    /// The data type of tensors of this element.
    const DTYPE: DataType;
    /// Appends the little-endian bytes of `self`.
    fn write_le(self, out: &mut Vec<u8>);
    /// Writes the little-endian bytes of `self` into `out`, which is exactly
    /// `DTYPE.size()` bytes long: a fixed-size store, so that a loop over a
    /// slice of elements vectorises (see [`crate::Tensor::from_slice`]).
    fn write_le_to(self, out: &mut [u8]);
    /// Reads one element from exactly `DTYPE.size()` little-endian bytes.
    fn read_le(bytes: &[u8]) -> Self;
    /// Decodes little-endian bytes, a whole number of elements long, into
    /// values (one copy; see [`crate::Tensor::to_values`]).
    fn decode_all_le(bytes: &[u8]) -> Vec<Self> {
        bytes
            .chunks_exact(Self::DTYPE.size())
            .map(Self::read_le)
            .collect()
    }
    /// Encodes values as little-endian bytes (one copy; see
    /// [`crate::Tensor::from_slice`]).
    fn encode_all_le(values: &[Self]) -> Vec<u8> {
        let size = Self::DTYPE.size();
        let mut data = vec![0u8; values.len() * size];
        for (out, &v) in data.chunks_exact_mut(size).zip(values) {
            v.write_le_to(out);
        }
        data
    }
}

macro_rules! numeric_element {
    ($t:ty, $d:expr) => {
        impl Element for $t {
            const DTYPE: DataType = $d;
            #[inline]
            fn write_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            #[inline]
            fn write_le_to(self, out: &mut [u8]) {
                out.copy_from_slice(&self.to_le_bytes());
            }
            #[inline]
            fn read_le(bytes: &[u8]) -> Self {
                let mut raw = [0u8; std::mem::size_of::<$t>()];
                raw.copy_from_slice(bytes);
                <$t>::from_le_bytes(raw)
            }
            // On little-endian machines the wire bytes are the values' own
            // bytes: a memcpy (aligned or not), not a loop over elements.
            #[cfg(target_endian = "little")]
            fn decode_all_le(bytes: &[u8]) -> Vec<Self> {
                match bytemuck::try_cast_slice::<u8, $t>(bytes) {
                    Ok(values) => values.to_vec(),
                    Err(_) => bytemuck::pod_collect_to_vec(bytes),
                }
            }
            #[cfg(target_endian = "little")]
            fn encode_all_le(values: &[Self]) -> Vec<u8> {
                bytemuck::cast_slice(values).to_vec()
            }
        }
    };
}

numeric_element!(u8, DataType::U8);
numeric_element!(u16, DataType::U16);
numeric_element!(u32, DataType::U32);
numeric_element!(u64, DataType::U64);
numeric_element!(i8, DataType::I8);
numeric_element!(i16, DataType::I16);
numeric_element!(i32, DataType::I32);
numeric_element!(i64, DataType::I64);
numeric_element!(f16, DataType::F16);
numeric_element!(f32, DataType::F32);
numeric_element!(f64, DataType::F64);

impl Element for bool {
    const DTYPE: DataType = DataType::Bool;
    fn write_le(self, out: &mut Vec<u8>) {
        out.push(u8::from(self));
    }
    fn write_le_to(self, out: &mut [u8]) {
        out[0] = u8::from(self);
    }
    fn read_le(bytes: &[u8]) -> Self {
        bytes[0] != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oip_names_round_trip_for_every_type() {
        for d in DataType::ALL {
            assert_eq!(d.oip_name().parse::<DataType>().unwrap(), d);
        }
    }

    #[test]
    fn unknown_name_is_refused() {
        assert!("BYTES".parse::<DataType>().is_err());
        assert!("fp32".parse::<DataType>().is_err());
    }
}
