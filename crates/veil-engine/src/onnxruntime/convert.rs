//! Veil tensors ⇄ ONNX Runtime values, one copy each way.
//!
//! In: ONNX Runtime reads the request's bytes where they lie when they are
//! aligned for the element type, or a typed `Vec<T>` decoded from them. Out: the session's output buffer is
//! encoded once into a new byte vector before the session is released.

use std::fmt::Debug;

use ort::session::SessionInputValue;
use ort::value::{DynValue, PrimitiveTensorElementType, TensorElementType, ValueType};
use veil_tensor::{DataType, Element, Tensor, f16};

use crate::EngineError;

/// Calls `$f::<T>($args)` with `T` the Rust element type of `$dtype`; with
/// `bool => $expr`, evaluates `$expr` for BOOL instead.
macro_rules! with_element_type {
    ($dtype:expr, $f:ident($($arg:expr),*)) => {
        with_element_type!($dtype, $f($($arg),*), bool => $f::<bool>($($arg),*))
    };
    ($dtype:expr, $f:ident($($arg:expr),*), bool => $on_bool:expr) => {
        match $dtype {
            DataType::Bool => $on_bool,
            DataType::U8 => $f::<u8>($($arg),*),
            DataType::U16 => $f::<u16>($($arg),*),
            DataType::U32 => $f::<u32>($($arg),*),
            DataType::U64 => $f::<u64>($($arg),*),
            DataType::I8 => $f::<i8>($($arg),*),
            DataType::I16 => $f::<i16>($($arg),*),
            DataType::I32 => $f::<i32>($($arg),*),
            DataType::I64 => $f::<i64>($($arg),*),
            DataType::F16 => $f::<f16>($($arg),*),
            DataType::F32 => $f::<f32>($($arg),*),
            DataType::F64 => $f::<f64>($($arg),*),
            other => Err(EngineError::Run(format!("datatype {other} has no ONNX Runtime mapping"))),
        }
    };
}

/// The Veil data type of an ONNX tensor element type, if Veil serves it.
pub(super) fn data_type(element: TensorElementType) -> Option<DataType> {
    Some(match element {
        TensorElementType::Bool => DataType::Bool,
        TensorElementType::Uint8 => DataType::U8,
        TensorElementType::Uint16 => DataType::U16,
        TensorElementType::Uint32 => DataType::U32,
        TensorElementType::Uint64 => DataType::U64,
        TensorElementType::Int8 => DataType::I8,
        TensorElementType::Int16 => DataType::I16,
        TensorElementType::Int32 => DataType::I32,
        TensorElementType::Int64 => DataType::I64,
        TensorElementType::Float16 => DataType::F16,
        TensorElementType::Float32 => DataType::F32,
        TensorElementType::Float64 => DataType::F64,
        _ => return None,
    })
}

/// An ONNX Runtime input for `tensor`: a view of its bytes when they are
/// aligned for the element type (no copy: Veil's encoders align the binary
/// section of a request), else a value holding a decoded copy.
pub(super) fn to_input(tensor: &Tensor) -> Result<SessionInputValue<'_>, EngineError> {
    with_element_type!(
        tensor.dtype(),
        view_or_copy(tensor),
        // Always decoded: any non-zero BOOL byte must become a valid `bool`.
        bool => Ok(typed_value::<bool>(tensor)?.into())
    )
}

/// The wire bytes are little-endian: on a little-endian machine, aligned
/// bytes already are the values.
#[cfg(target_endian = "little")]
fn view_or_copy<T>(tensor: &Tensor) -> Result<SessionInputValue<'_>, EngineError>
where
    T: Element + PrimitiveTensorElementType + Debug + bytemuck::Pod,
{
    let Ok(values) = bytemuck::try_cast_slice::<u8, T>(tensor.bytes()) else {
        return Ok(typed_value::<T>(tensor)?.into());
    };
    let view = ort::value::TensorRef::from_array_view((shape_of(tensor)?, values))
        .map_err(|e| EngineError::Run(format!("could not build an input tensor: {e}")))?;
    Ok(view.into())
}

#[cfg(not(target_endian = "little"))]
fn view_or_copy<T>(tensor: &Tensor) -> Result<SessionInputValue<'_>, EngineError>
where
    T: Element + PrimitiveTensorElementType + Debug,
{
    Ok(typed_value::<T>(tensor)?.into())
}

fn shape_of(tensor: &Tensor) -> Result<Vec<i64>, EngineError> {
    tensor
        .shape()
        .iter()
        .map(|&d| i64::try_from(d))
        .collect::<Result<Vec<i64>, _>>()
        .map_err(|_| EngineError::Run("tensor dimension does not fit in i64".to_owned()))
}

fn typed_value<T>(tensor: &Tensor) -> Result<DynValue, EngineError>
where
    T: Element + PrimitiveTensorElementType + Debug,
{
    let shape = shape_of(tensor)?;
    // Decoding through `Element::read_le` also turns any non-zero BOOL byte
    // into a valid `bool`, so ONNX Runtime never sees a byte other than 0 or 1.
    let values = tensor
        .to_values::<T>()
        .map_err(|e| EngineError::Run(e.to_string()))?;
    let value = ort::value::Tensor::from_array((shape, values))
        .map_err(|e| EngineError::Run(format!("could not build an input tensor: {e}")))?;
    Ok(value.into_dyn())
}

/// Copies an output value into a Veil tensor.
pub(super) fn from_value(name: &str, value: &DynValue) -> Result<Tensor, EngineError> {
    let element = match value.dtype() {
        ValueType::Tensor { ty, .. } => *ty,
        other => {
            return Err(EngineError::Run(format!(
                "output {name:?} is a {other}, not a tensor"
            )));
        }
    };
    let dtype = data_type(element).ok_or_else(|| {
        EngineError::Run(format!(
            "output {name:?} has element type {element}, which Veil does not serve"
        ))
    })?;
    with_element_type!(dtype, typed_tensor(name, value))
}

fn typed_tensor<T>(name: &str, value: &DynValue) -> Result<Tensor, EngineError>
where
    T: Element + PrimitiveTensorElementType,
{
    let (shape, data) = value
        .try_extract_tensor::<T>()
        .map_err(|e| EngineError::Run(format!("could not read output {name:?}: {e}")))?;
    let shape = shape
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<Result<Vec<usize>, _>>()
        .map_err(|_| EngineError::Run(format!("output {name:?} has a negative dimension")))?;
    // One vectorised pass into a pre-sized buffer (see `Tensor::from_slice`).
    Tensor::from_slice(shape, data).map_err(|e| EngineError::Run(e.to_string()))
}
