//! A metrics recorder that keeps the last value of every counter and gauge, for assertions.
//!
//! Tests install it with `metrics::set_default_local_recorder`, which is thread-local: that is
//! enough because `#[tokio::test]` runs the loop, its handler tasks and the simulator on the
//! test's one thread, and it keeps tests running in parallel from seeing each other's values.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, Key, KeyName, Metadata, Recorder, SharedString,
    Unit,
};

/// Values by `name{label="value",...}`.
#[derive(Clone, Debug, Default)]
pub(crate) struct TestRecorder {
    values: Arc<Mutex<BTreeMap<String, Arc<Value>>>>,
}

#[derive(Debug, Default)]
struct Value(Mutex<f64>);

impl TestRecorder {
    /// The current value of a metric, if it was ever registered; `key` as in the type's docs.
    pub(crate) fn get(&self, key: &str) -> Option<f64> {
        let values = self.values.lock().unwrap();
        values.get(key).map(|v| *v.0.lock().unwrap())
    }

    fn entry(&self, key: &Key) -> Arc<Value> {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}=\"{}\"", l.key(), l.value()))
            .collect();
        let name = if labels.is_empty() {
            key.name().to_owned()
        } else {
            format!("{}{{{}}}", key.name(), labels.join(","))
        };
        Arc::clone(self.values.lock().unwrap().entry(name).or_default())
    }
}

impl CounterFn for Value {
    fn increment(&self, value: u64) {
        *self.0.lock().unwrap() += value as f64;
    }

    fn absolute(&self, value: u64) {
        *self.0.lock().unwrap() = value as f64;
    }
}

impl GaugeFn for Value {
    fn increment(&self, value: f64) {
        *self.0.lock().unwrap() += value;
    }

    fn decrement(&self, value: f64) {
        *self.0.lock().unwrap() -= value;
    }

    fn set(&self, value: f64) {
        *self.0.lock().unwrap() = value;
    }
}

impl Recorder for TestRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.entry(key))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.entry(key))
    }

    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}
