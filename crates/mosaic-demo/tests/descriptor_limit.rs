//! A server out of file descriptors, on each runtime in turn: alone in this
//! test binary because the scenario lowers the process's open-files limit.

mod harness;

#[cfg(target_os = "linux")]
#[test]
fn accepting_waits_while_descriptors_run_out_on_each_runtime() {
    use harness::{OnAsyncStd, OnSmol, OnTokio};
    use mosaic_demo::conformance::accepting_waits_while_descriptors_run_out;

    accepting_waits_while_descriptors_run_out(&OnTokio);
    accepting_waits_while_descriptors_run_out(&OnAsyncStd);
    accepting_waits_while_descriptors_run_out(&OnSmol);
}
