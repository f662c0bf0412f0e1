//! What a model takes and returns: names, data types and shapes.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::DataType;

/// One dimension of a declared tensor shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "i64", into = "i64")]
pub enum Dimension {
    /// A fixed size.
    Fixed(u64),
    /// A dynamic size (`-1` in the Open Inference Protocol).
    Dynamic,
}

impl From<i64> for Dimension {
    fn from(d: i64) -> Self {
        u64::try_from(d).map_or(Dimension::Dynamic, Dimension::Fixed)
    }
}

impl From<Dimension> for i64 {
    fn from(d: Dimension) -> i64 {
        match d {
            Dimension::Fixed(n) => i64::try_from(n).unwrap_or(i64::MAX),
            Dimension::Dynamic => -1,
        }
    }
}

/// A named input or output of a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorSpec {
    /// Tensor name as the model declares it.
    pub name: String,
    /// Element type.
    pub datatype: DataType,
    /// Declared shape; dynamic dimensions are `-1` on the wire.
    pub shape: Vec<Dimension>,
}

impl TensorSpec {
    /// Whether a concrete shape fits this declaration.
    pub fn accepts_shape(&self, shape: &[usize]) -> bool {
        shape.len() == self.shape.len()
            && self.shape.iter().zip(shape).all(|(d, &n)| match d {
                Dimension::Fixed(f) => *f == n as u64,
                Dimension::Dynamic => true,
            })
    }
}

impl fmt::Display for TensorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}[", self.name, self.datatype)?;
        for (i, d) in self.shape.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match d {
                Dimension::Fixed(n) => write!(f, "{n}")?,
                Dimension::Dynamic => f.write_str("-1")?,
            }
        }
        f.write_str("]")
    }
}

/// The inputs and outputs of a loaded model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSignature {
    /// Inputs, in the model's order.
    pub inputs: Vec<TensorSpec>,
    /// Outputs, in the model's order.
    pub outputs: Vec<TensorSpec>,
}

impl fmt::Display for ModelSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |specs: &[TensorSpec]| {
            specs
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        write!(
            f,
            "inputs ({}) -> outputs ({})",
            list(&self.inputs),
            list(&self.outputs)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> TensorSpec {
        TensorSpec {
            name: "x".into(),
            datatype: DataType::F32,
            shape: vec![Dimension::Dynamic, Dimension::Fixed(3)],
        }
    }

    #[test]
    fn dynamic_dimension_accepts_any_size_fixed_only_its_own() {
        assert!(spec().accepts_shape(&[7, 3]));
        assert!(!spec().accepts_shape(&[7, 4]));
        assert!(!spec().accepts_shape(&[3]));
    }

    #[test]
    fn dynamic_dimension_is_minus_one_on_the_wire() {
        assert_eq!(i64::from(Dimension::Dynamic), -1);
        assert_eq!(Dimension::from(-1i64), Dimension::Dynamic);
        assert_eq!(Dimension::from(3i64), Dimension::Fixed(3));
        assert_eq!(spec().to_string(), "x: FP32[-1, 3]");
    }
}
