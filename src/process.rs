//! The standard process metrics, under client_golang's names and HELP, read from
//! `/proc` (through the `procfs` crate) at each scrape. A value that cannot be read
//! is left out rather than guessed.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// The process metrics as a prometheus-client collector, read afresh at each encoding.
/// prometheus-client adds the counter's `_total`.
#[derive(Debug, Default)]
pub struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Ok(me) = procfs::process::Process::myself() else {
            return Ok(());
        };
        if let Ok(stat) = me.stat() {
            let ticks = procfs::ticks_per_second() as f64;
            let cpu = ConstCounter::new((stat.utime + stat.stime) as f64 / ticks);
            cpu.encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds.",
                None,
                cpu.metric_type(),
            )?)?;
            gauge(&mut encoder, "process_virtual_memory_bytes", "Virtual memory size in bytes.", stat.vsize)?;
            let rss = stat.rss.saturating_mul(procfs::page_size());
            gauge(&mut encoder, "process_resident_memory_bytes", "Resident memory size in bytes.", rss)?;
            // The kernel counts the start in ticks since boot; boot time is whole seconds.
            if let Ok(boot) = procfs::boot_time_secs() {
                let start = boot as f64 + stat.starttime as f64 / ticks;
                gauge(&mut encoder, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.", start)?;
            }
        }
        if let Ok(n) = me.fd_count() {
            gauge(&mut encoder, "process_open_fds", "Number of open file descriptors.", n as u64)?;
        }
        if let Ok(limits) = me.limits()
            && let procfs::process::LimitValue::Value(max) = limits.max_open_files.soft_limit
        {
            gauge(&mut encoder, "process_max_fds", "Maximum number of open file descriptors.", max)?;
        }
        Ok(())
    }
}

fn gauge<N: EncodeGaugeValue>(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: N) -> Result<(), std::fmt::Error> {
    let g = ConstGauge::new(value);
    g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)
}
