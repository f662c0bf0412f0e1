//! Valid requests give the right answers, for every dtype, shape kind and
//! output selection, from many threads at once.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns count as non-test code

mod common;

use common::{engine_with_sessions, load, load_with, model_file};
use veil_engine::{DataType, Tensor};

fn f32_tensor(shape: Vec<usize>, values: Vec<f32>) -> Tensor {
    Tensor::from_values(shape, values).unwrap()
}

fn named(name: &str, tensor: Tensor) -> (String, Tensor) {
    (name.to_owned(), tensor)
}

#[test]
fn add_returns_exact_elementwise_sums() {
    let model = load("add.onnx");
    let a: Vec<f32> = vec![1.5, -2.25, 1e30, 3.0, 0.1, -0.0];
    let b: Vec<f32> = vec![0.25, 2.25, 1e30, -7.5, 0.2, 0.0];
    let outputs = model
        .run(
            vec![
                named("a", f32_tensor(vec![2, 3], a.clone())),
                named("b", f32_tensor(vec![2, 3], b.clone())),
            ],
            None,
        )
        .unwrap();
    assert_eq!(outputs.len(), 1);
    let (name, sum) = &outputs[0];
    assert_eq!(name, "sum");
    assert_eq!(sum.shape(), &[2, 3]);
    let expected: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
    let got = sum.to_values::<f32>().unwrap();
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g.to_bits(), e.to_bits());
    }
}

#[test]
fn add_accepts_any_size_for_dynamic_dimensions_including_zero() {
    let model = load("add.onnx");
    for shape in [vec![1, 1], vec![3, 7], vec![0, 5], vec![4, 0]] {
        let n = shape.iter().product();
        let a = f32_tensor(shape.clone(), (0..n).map(|i| i as f32).collect());
        let b = f32_tensor(shape.clone(), vec![1.0; n]);
        let outputs = model.run(vec![named("a", a), named("b", b)], None).unwrap();
        let sum = &outputs[0].1;
        assert_eq!(sum.shape(), shape.as_slice());
        let expected: Vec<f32> = (0..n).map(|i| i as f32 + 1.0).collect();
        assert_eq!(sum.to_values::<f32>().unwrap(), expected);
    }
}

#[test]
fn mlp_matches_onnxruntime_python_and_a_rust_reference() {
    let expected: serde_json::Value =
        serde_json::from_slice(&model_file("mlp.expected.json")).unwrap();
    let floats = |key: &str| -> Vec<f32> {
        expected[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect()
    };
    let dims = |key: &str| -> Vec<usize> {
        expected[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect()
    };
    let (x, w1, b1, w2, y) = (
        floats("x"),
        floats("w1"),
        floats("b1"),
        floats("w2"),
        floats("y"),
    );
    let (x_shape, y_shape) = (dims("x_shape"), dims("y_shape"));
    let (batch, hidden, out) = (x_shape[0], b1.len(), y_shape[1]);
    assert_eq!(
        (x_shape[1], dims("w1_shape"), dims("w2_shape")),
        (16, vec![16, hidden], vec![hidden, out])
    );

    let model = load("mlp.onnx");
    let outputs = model
        .run(vec![named("x", f32_tensor(x_shape, x.clone()))], None)
        .unwrap();
    let (name, got) = &outputs[0];
    assert_eq!(name, "y");
    assert_eq!(got.shape(), y_shape.as_slice());
    let got = got.to_values::<f32>().unwrap();

    // Same library as onnxruntime-python: equal to within rounding.
    for (g, e) in got.iter().zip(&y) {
        assert!(
            (g - e).abs() <= 1e-6 * (1.0 + e.abs()),
            "onnxruntime-python gave {e}, we got {g}"
        );
    }
    // An independent reference in f64: relu(x @ w1 + b1) @ w2.
    for r in 0..batch {
        let h: Vec<f64> = (0..hidden)
            .map(|j| {
                let z = (0..16)
                    .map(|k| f64::from(x[r * 16 + k]) * f64::from(w1[k * hidden + j]))
                    .sum::<f64>();
                (z + f64::from(b1[j])).max(0.0)
            })
            .collect();
        for c in 0..out {
            let reference: f64 = (0..hidden).map(|j| h[j] * f64::from(w2[j * out + c])).sum();
            let g = f64::from(got[r * out + c]);
            assert!(
                (g - reference).abs() <= 1e-5 * (1.0 + reference.abs()),
                "reference {reference}, got {g}"
            );
        }
    }
}

/// Deterministic bytes for a tensor of `dtype` with `n` elements: arbitrary
/// bit patterns (NaN payloads, subnormals, -0.0 included) for numbers, 0/1 for BOOL.
fn pattern(dtype: DataType, n: usize) -> Vec<u8> {
    let len = n * dtype.size();
    (0..len)
        .map(|i| {
            let byte = (i as u32).wrapping_mul(2_654_435_761).rotate_right(13) as u8;
            if dtype == DataType::Bool {
                byte & 1
            } else {
                byte
            }
        })
        .collect()
}

#[test]
fn every_dtype_round_trips_bit_exactly_through_identity() {
    let model = load("identity_all_dtypes.onnx");
    for shape in [vec![2, 3], vec![1, 17], vec![0, 4]] {
        let n: usize = shape.iter().product();
        let inputs: Vec<(String, Tensor)> = DataType::ALL
            .iter()
            .map(|&d| {
                let t = Tensor::from_bytes(d, shape.clone(), pattern(d, n)).unwrap();
                (format!("in_{}", d.oip_name()), t)
            })
            .collect();
        let outputs = model.run(inputs.clone(), None).unwrap();
        assert_eq!(outputs.len(), DataType::ALL.len());
        for ((out_name, out), (in_name, input)) in outputs.iter().zip(&inputs) {
            assert_eq!(out_name, &in_name.replace("in_", "out_"));
            assert_eq!(out.dtype(), input.dtype(), "{out_name}");
            assert_eq!(out.shape(), shape.as_slice(), "{out_name}");
            assert_eq!(out.bytes(), input.bytes(), "{out_name} changed bits");
        }
    }
}

#[test]
fn nonzero_bool_bytes_are_read_as_true() {
    let model = load("identity_all_dtypes.onnx");
    let inputs: Vec<(String, Tensor)> = DataType::ALL
        .iter()
        .map(|&d| {
            let bytes = if d == DataType::Bool {
                vec![0, 1, 2, 255]
            } else {
                vec![0; 4 * d.size()]
            };
            (
                format!("in_{}", d.oip_name()),
                Tensor::from_bytes(d, vec![2, 2], bytes).unwrap(),
            )
        })
        .collect();
    let outputs = model.run(inputs, Some(&["out_BOOL".to_owned()])).unwrap();
    assert_eq!(outputs[0].1.bytes(), &[0, 1, 1, 1]);
}

#[test]
fn selecting_outputs_returns_just_those_in_the_order_asked() {
    let model = load("identity_all_dtypes.onnx");
    let inputs: Vec<(String, Tensor)> = DataType::ALL
        .iter()
        .map(|&d| {
            (
                format!("in_{}", d.oip_name()),
                Tensor::from_bytes(d, vec![1, 2], pattern(d, 2)).unwrap(),
            )
        })
        .collect();
    let wanted = ["out_INT8".to_owned(), "out_FP16".to_owned()];
    let outputs = model.run(inputs.clone(), Some(&wanted)).unwrap();
    let names: Vec<&str> = outputs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["out_INT8", "out_FP16"]);
    let input = |name: &str| &inputs.iter().find(|(n, _)| n == name).unwrap().1;
    assert_eq!(outputs[0].1, *input("in_INT8"));
    assert_eq!(outputs[1].1, *input("in_FP16"));
}

#[test]
fn argmax_turns_fp32_scores_into_int64_labels() {
    let model = load("argmax.onnx");
    let mut scores = vec![0.0f32; 30];
    scores[7] = 1.0;
    scores[10] = 5.0;
    scores[29] = 0.5;
    let outputs = model
        .run(vec![named("scores", f32_tensor(vec![3, 10], scores))], None)
        .unwrap();
    let (name, labels) = &outputs[0];
    assert_eq!(name, "label");
    assert_eq!(labels.dtype(), DataType::I64);
    assert_eq!(labels.shape(), &[3]);
    assert_eq!(labels.to_values::<i64>().unwrap(), vec![7, 0, 9]);
}

#[test]
fn scalar_inputs_and_outputs_have_rank_zero() {
    let model = load("scalar.onnx");
    let x = Tensor::from_values(vec![], vec![-3.5f64]).unwrap();
    let outputs = model.run(vec![named("x", x)], None).unwrap();
    let (name, square) = &outputs[0];
    assert_eq!(name, "square");
    assert_eq!(square.shape(), &[] as &[usize]);
    assert_eq!(square.to_values::<f64>().unwrap(), vec![12.25]);
}

#[test]
fn concurrent_runs_from_8_threads_on_one_model_give_correct_results() {
    for sessions in [1, 3] {
        let engine = engine_with_sessions(sessions);
        let model = load_with(&engine, "add.onnx");
        std::thread::scope(|scope| {
            for thread in 0..8u16 {
                let model = &model;
                scope.spawn(move || {
                    for round in 0..40u16 {
                        // Distinct values and shapes per thread and round, so a
                        // mix-up between concurrent runs cannot go unnoticed.
                        let rows = 1 + usize::from((thread + round) % 4);
                        let n = rows * 5;
                        let base = f32::from(thread) * 1000.0 + f32::from(round);
                        let a: Vec<f32> = (0..n).map(|i| base + i as f32).collect();
                        let b: Vec<f32> = (0..n).map(|i| (i as f32) * 0.5).collect();
                        let outputs = model
                            .run(
                                vec![
                                    named("a", f32_tensor(vec![rows, 5], a.clone())),
                                    named("b", f32_tensor(vec![rows, 5], b.clone())),
                                ],
                                None,
                            )
                            .unwrap();
                        let expected: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
                        assert_eq!(outputs[0].1.shape(), &[rows, 5]);
                        assert_eq!(outputs[0].1.to_values::<f32>().unwrap(), expected);
                    }
                });
            }
        });
    }
}

/// Signals on a channel when dropped: stands for an admission ticket.
struct DropSignal(std::sync::mpsc::Sender<()>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        self.0.send(()).ok();
    }
}

fn add_inputs(value: f32, rows: usize) -> Vec<(String, Tensor)> {
    vec![
        named("a", f32_tensor(vec![rows, 5], vec![value; rows * 5])),
        named("b", f32_tensor(vec![rows, 5], vec![1.0; rows * 5])),
    ]
}

#[test]
fn queued_runs_beyond_the_sessions_all_complete_in_any_order_with_their_own_results() {
    let engine = engine_with_sessions(2);
    let model = load_with(&engine, "add.onnx");
    // 24 runs on 2 session threads: most of them queue.
    let pending: Vec<_> = (0..24u16)
        .map(|i| {
            model.submit(
                add_inputs(f32::from(i), 1 + usize::from(i % 3)),
                None,
                Box::new(()),
            )
        })
        .collect();
    for (i, run) in (0..24u16).zip(pending) {
        let outcome = run.wait();
        let outputs = outcome.outputs.unwrap();
        assert_eq!(outputs[0].1.shape(), &[1 + usize::from(i % 3), 5]);
        assert!(
            outputs[0]
                .1
                .to_values::<f32>()
                .unwrap()
                .iter()
                .all(|&v| v == f32::from(i) + 1.0)
        );
        assert!(outcome.ran > std::time::Duration::ZERO);
    }
}

#[test]
fn the_hold_lasts_until_the_run_ends_even_if_the_requester_goes_away() {
    let model = load("add.onnx");
    let (tx, rx) = std::sync::mpsc::channel();
    let pending = model.submit(add_inputs(1.0, 4), None, Box::new(DropSignal(tx)));
    drop(pending);
    // The run still happens and then lets go of the hold.
    rx.recv_timeout(std::time::Duration::from_secs(30)).unwrap();
    // The session keeps serving.
    let outputs = model.run(add_inputs(2.0, 1), None).unwrap();
    assert_eq!(outputs[0].1.to_values::<f32>().unwrap(), vec![3.0; 5]);
}

#[test]
fn runs_queued_when_the_model_is_dropped_still_complete() {
    let engine = engine_with_sessions(1);
    let model = load_with(&engine, "add.onnx");
    let pending: Vec<_> = (0..6u16)
        .map(|i| model.submit(add_inputs(f32::from(i), 2), None, Box::new(())))
        .collect();
    drop(model);
    for (i, run) in (0..6u16).zip(pending) {
        let outputs = run.wait().outputs.unwrap();
        assert_eq!(
            outputs[0].1.to_values::<f32>().unwrap(),
            vec![f32::from(i) + 1.0; 10]
        );
    }
}

#[test]
fn a_bad_request_is_refused_before_it_is_queued() {
    let model = load("add.onnx");
    let (tx, rx) = std::sync::mpsc::channel();
    let outcome = model
        .submit(
            vec![named("a", f32_tensor(vec![1, 5], vec![0.0; 5]))],
            None,
            Box::new(DropSignal(tx)),
        )
        .wait();
    assert!(matches!(
        outcome.outputs,
        Err(veil_engine::EngineError::InvalidInput { .. })
    ));
    assert_eq!(outcome.ran, std::time::Duration::ZERO);
    // Refused at once: the hold is already gone.
    rx.try_recv().unwrap();
}

#[test]
fn inputs_at_any_alignment_give_the_same_results() {
    // Aligned bytes are handed to ONNX Runtime as they lie, others are
    // copied first: both must compute the same thing.
    let model = load("add.onnx");
    let a: Vec<f32> = (0..15).map(|i| i as f32 * 1.25 - 3.0).collect();
    let b: Vec<f32> = (0..15).map(|i| 100.0 - i as f32).collect();
    let expected: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
    let at_offset = |values: &[f32], offset: usize| {
        let mut body = vec![0u8; offset];
        for v in values {
            body.extend_from_slice(&v.to_le_bytes());
        }
        let bytes = bytes::Bytes::from(body).slice(offset..);
        Tensor::from_shared_bytes(DataType::F32, vec![3, 5], bytes).unwrap()
    };
    for offset in 0..8 {
        let outputs = model
            .run(
                vec![
                    named("a", at_offset(&a, offset)),
                    named("b", at_offset(&b, 7 - offset)),
                ],
                None,
            )
            .unwrap();
        assert_eq!(
            outputs[0].1.to_values::<f32>().unwrap(),
            expected,
            "offset {offset}"
        );
    }
}
