//! CPU and memory of a process on this host, read from `/proc`.

use std::time::{Duration, Instant};

/// One reading.
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    /// When.
    pub at: Instant,
    /// User + system CPU time so far.
    pub cpu: Duration,
    /// Of that, the time in user space: the server's own code, where the rest is the
    /// kernel's (sockets, mostly).
    pub user: Duration,
    /// Resident memory in bytes.
    pub rss: u64,
}

/// Reads `/proc/PID/stat` and `/proc/PID/status`; `None` if the process is gone or this
/// is not Linux.
pub fn read(pid: u32) -> Option<Reading> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let user: u64 = fields.get(11)?.parse().ok()?;
    let ticks: u64 = user + fields.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())?;
    // Linux reports CPU in clock ticks of 1/100 s on every common configuration.
    Some(Reading {
        at: Instant::now(),
        cpu: Duration::from_millis(ticks * 10),
        user: Duration::from_millis(user * 10),
        rss: rss_kb * 1024,
    })
}

/// Finds a local process whose command line contains every word in `words`.
pub fn find(words: &[&str]) -> Option<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        if pid == me {
            return None;
        }
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        words.iter().all(|w| cmd.contains(w)).then_some(pid)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_itself() {
        let r = super::read(std::process::id()).expect("Linux /proc");
        assert!(r.rss > 1_000_000);
        assert!(r.user <= r.cpu);
    }
}
