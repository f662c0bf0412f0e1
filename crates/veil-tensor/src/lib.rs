//! Tensors, data types and model signatures: the vocabulary shared by Veil's
//! inference engine, its wire protocol and its clients.
//!
//! A [`Tensor`] is a data type, a shape and row-major little-endian bytes —
//! the layout of the Open Inference Protocol's binary tensor extension and of
//! ONNX Runtime's buffers — so it crosses every boundary with at most one copy.
//!
//! ```
//! use veil_tensor::{DataType, Tensor};
//! let t = Tensor::from_values(vec![2, 2], vec![1.0f32, 2.0, 3.0, 4.0]).unwrap();
//! assert_eq!(t.dtype(), DataType::F32);
//! assert_eq!(t.to_values::<f32>().unwrap()[3], 4.0);
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod dtype;
mod signature;
mod tensor;

pub use dtype::{DataType, Element, UnknownDataType};
pub use half::f16;
pub use signature::{Dimension, ModelSignature, TensorSpec};
pub use tensor::{Tensor, TensorError, element_count};
