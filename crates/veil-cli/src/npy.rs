//! Reading and writing `.npy` files (through the `npyz` crate) as Veil tensors.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

use anyhow::{Context, Result, bail};
use npyz::{DType, NpyFile, TypeChar, WriterBuilder};
use veil_tensor::{DataType, Element, Tensor, f16};

fn dtype_of(d: &DType) -> Result<DataType> {
    let DType::Plain(ts) = d else {
        bail!("only plain numeric arrays are supported, not {}", d.descr());
    };
    Ok(match (ts.type_char(), ts.size_field()) {
        (TypeChar::Bool, 1) => DataType::Bool,
        (TypeChar::Uint, 1) => DataType::U8,
        (TypeChar::Uint, 2) => DataType::U16,
        (TypeChar::Uint, 4) => DataType::U32,
        (TypeChar::Uint, 8) => DataType::U64,
        (TypeChar::Int, 1) => DataType::I8,
        (TypeChar::Int, 2) => DataType::I16,
        (TypeChar::Int, 4) => DataType::I32,
        (TypeChar::Int, 8) => DataType::I64,
        (TypeChar::Float, 2) => DataType::F16,
        (TypeChar::Float, 4) => DataType::F32,
        (TypeChar::Float, 8) => DataType::F64,
        _ => bail!("unsupported .npy dtype {}", d.descr()),
    })
}

/// Reads a C-ordered `.npy` file.
pub fn read(path: &Path) -> Result<Tensor> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let npy = NpyFile::new(BufReader::new(file))
        .with_context(|| format!("{} is not a .npy file", path.display()))?;
    if npy.order() != npyz::Order::C {
        bail!(
            "{}: Fortran-ordered arrays are not supported; save with np.ascontiguousarray",
            path.display()
        );
    }
    let dtype = dtype_of(&npy.dtype()).with_context(|| path.display().to_string())?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    fn values<T: Element + npyz::Deserialize>(
        npy: NpyFile<BufReader<File>>,
        shape: Vec<usize>,
    ) -> Result<Tensor> {
        Ok(Tensor::from_values(shape, npy.into_vec::<T>()?)?)
    }
    let t = match dtype {
        DataType::Bool => values::<bool>(npy, shape),
        DataType::U8 => values::<u8>(npy, shape),
        DataType::U16 => values::<u16>(npy, shape),
        DataType::U32 => values::<u32>(npy, shape),
        DataType::U64 => values::<u64>(npy, shape),
        DataType::I8 => values::<i8>(npy, shape),
        DataType::I16 => values::<i16>(npy, shape),
        DataType::I32 => values::<i32>(npy, shape),
        DataType::I64 => values::<i64>(npy, shape),
        DataType::F16 => values::<f16>(npy, shape),
        DataType::F32 => values::<f32>(npy, shape),
        DataType::F64 => values::<f64>(npy, shape),
        other => bail!("unsupported dtype {other}"),
    };
    t.with_context(|| format!("cannot read {}", path.display()))
}

/// Writes a tensor as a `.npy` file.
pub fn write(path: &Path, t: &Tensor) -> Result<()> {
    fn values<T: Element + npyz::AutoSerialize>(path: &Path, t: &Tensor) -> Result<()> {
        let shape: Vec<u64> = t.shape().iter().map(|&d| d as u64).collect();
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut w = npyz::WriteOptions::new()
            .default_dtype()
            .shape(&shape)
            .writer(BufWriter::new(file))
            .begin_nd()?;
        w.extend(t.to_values::<T>()?)?;
        w.finish()?;
        Ok(())
    }
    match t.dtype() {
        DataType::Bool => values::<bool>(path, t),
        DataType::U8 => values::<u8>(path, t),
        DataType::U16 => values::<u16>(path, t),
        DataType::U32 => values::<u32>(path, t),
        DataType::U64 => values::<u64>(path, t),
        DataType::I8 => values::<i8>(path, t),
        DataType::I16 => values::<i16>(path, t),
        DataType::I32 => values::<i32>(path, t),
        DataType::I64 => values::<i64>(path, t),
        DataType::F16 => values::<f16>(path, t),
        DataType::F32 => values::<f32>(path, t),
        DataType::F64 => values::<f64>(path, t),
        other => bail!("unsupported dtype {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dtype_round_trips_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.npy");
        let cases = vec![
            Tensor::from_values(vec![2], vec![true, false]).unwrap(),
            Tensor::from_values(vec![2, 1], vec![1u8, 2]).unwrap(),
            Tensor::from_values(vec![1], vec![u64::MAX]).unwrap(),
            Tensor::from_values(vec![1], vec![i8::MIN]).unwrap(),
            Tensor::from_values(vec![1, 1, 1], vec![i64::MIN]).unwrap(),
            Tensor::from_values(vec![1], vec![f16::from_f32(0.25)]).unwrap(),
            Tensor::from_values(vec![2, 2], vec![1.0f32, 2.0, 3.0, f32::NAN]).unwrap(),
            Tensor::from_values(vec![], vec![3.5f64]).unwrap(),
        ];
        for t in cases {
            write(&p, &t).unwrap();
            let back = read(&p).unwrap();
            assert_eq!(back.dtype(), t.dtype());
            assert_eq!(back.shape(), t.shape());
            assert_eq!(back.bytes(), t.bytes());
        }
    }
}
