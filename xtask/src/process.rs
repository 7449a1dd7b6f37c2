//! Process plumbing shared by the tasks: running commands, spawning detached daemons with their output in a
//! log file, stopping them by pid (SIGTERM, then SIGKILL), free loopback ports, log tails and a tiny
//! plain-HTTP probe. Only `std` and the shell's `kill` builtin are used, so the crate stays free of
//! `unsafe`/libc.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Runs `cmd` with inherited stdio and fails (naming the command) unless it exits successfully.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = status(cmd)?;
    if !status.success() {
        bail!("`{}` failed ({status})", describe(cmd));
    }
    Ok(())
}

/// Runs `cmd` with inherited stdio and returns its exit status.
pub fn status(cmd: &mut Command) -> Result<ExitStatus> {
    cmd.status()
        .with_context(|| format!("failed to start `{}`", describe(cmd)))
}

/// Runs `cmd`, capturing stdout and stderr; fails with stderr in the message unless it succeeds.
pub fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("failed to start `{}`", describe(cmd)))?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({}): {}",
            describe(cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A short human description of a command line (program file name and arguments).
pub fn describe(cmd: &Command) -> String {
    let program = Path::new(cmd.get_program());
    let name = program.file_name().unwrap_or(program.as_os_str());
    let mut parts = vec![name.to_string_lossy().into_owned()];
    parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

/// Spawns a long-running process in its own process group (so a Ctrl-C aimed at the foreground job does
/// not reach it), with stdin closed and stdout+stderr appended to `log`.
pub fn spawn_daemon<I, S>(program: &Path, args: I, log: &Path, envs: &[(&str, &OsStr)]) -> Result<Child>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let file = File::options()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("failed to open log file {}", log.display()))?;
    let err = file.try_clone().context("failed to duplicate log file handle")?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .process_group(0);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.spawn()
        .with_context(|| format!("failed to start {}", program.display()))
}

/// Whether a process with this pid exists and is not a zombie.
pub fn is_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state letter follows the parenthesised command name, which may itself contain spaces.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// The NUL-separated command line of a live process, joined with spaces (empty when unreadable).
pub fn cmdline(pid: u32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            raw.split(|b| *b == 0)
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// Stops `pid` if it is alive and its command line contains `marker` (guards against pid reuse):
/// SIGTERM, wait up to `grace`, then SIGKILL. Returns whether a process was signalled.
pub fn stop_pid(pid: u32, marker: &str, grace: Duration) -> bool {
    // A process caught in the middle of execve (just spawned) briefly shows an empty command line.
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut line = cmdline(pid);
    while line.is_empty() && is_alive(pid) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
        line = cmdline(pid);
    }
    if !is_alive(pid) || !line.contains(marker) {
        return false;
    }
    send_signal(pid, "TERM");
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !is_alive(pid) {
            return true;
        }
        thread::sleep(Duration::from_millis(100));
    }
    send_signal(pid, "KILL");
    let deadline = Instant::now() + Duration::from_secs(5);
    while is_alive(pid) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
    }
    true
}

fn send_signal(pid: u32, signal: &str) {
    // Best effort: the process may exit between the liveness check and the signal.
    // The shell's `kill` builtin: no dependency on procps' /usr/bin/kill, and no `unsafe` libc call.
    let _ = Command::new("sh")
        .args(["-c", "kill -s \"$0\" \"$1\"", signal, &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Returns `n` distinct currently-free TCP ports on 127.0.0.1 (all reserved at once, then released).
pub fn free_ports(n: usize) -> Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").context("failed to reserve a loopback port"))
        .collect::<Result<Vec<_>>>()?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr().context("failed to read reserved port")?.port()))
        .collect()
}

/// The last `lines` lines of a text file (or a note that it could not be read).
pub fn tail(path: &Path, lines: usize) -> String {
    match fs::read(path) {
        Ok(raw) => {
            let text = String::from_utf8_lossy(&raw);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(could not read {}: {e})", path.display()),
    }
}

/// Plain HTTP/1.0 GET against a loopback address; returns the raw response (status line, headers, body).
pub fn http_get(port: u16, path: &str, timeout: Duration) -> Result<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

/// Locates `name` on `PATH` (first executable match), like `command -v`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// Whether `path` is a regular file with an execute bit.
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Formats a duration as seconds with one decimal, or minutes and seconds above a minute.
pub fn human(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liveness_follows_the_process_and_stop_respects_the_marker() -> Result<()> {
        let log = std::env::temp_dir().join(format!("edgefleet-process-test-{}.log", std::process::id()));
        let mut child = spawn_daemon(Path::new("sleep"), ["30"], &log, &[])?;
        let pid = child.id();
        assert!(is_alive(pid));
        // A marker that is not on the command line protects unrelated processes (pid reuse).
        assert!(!stop_pid(pid, "not-on-the-command-line", Duration::from_secs(5)));
        assert!(is_alive(pid));
        assert!(stop_pid(pid, "sleep 30", Duration::from_secs(5)));
        // SIGTERM ended it; until reaped it is a zombie, which counts as dead.
        assert!(!is_alive(pid));
        let status = child.wait()?;
        assert!(!status.success());
        fs::remove_file(&log)?;
        assert!(!is_alive(u32::MAX));
        Ok(())
    }

    #[test]
    fn free_ports_are_distinct_and_nonzero() -> Result<()> {
        let ports = free_ports(4)?;
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 4, "{ports:?}");
        assert!(ports.iter().all(|p| *p != 0), "{ports:?}");
        Ok(())
    }

    #[test]
    fn http_get_returns_the_raw_response() -> Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let server = thread::spawn(move || -> std::io::Result<String> {
            let (mut stream, _) = listener.accept()?;
            let mut request = Vec::new();
            let mut buf = [0u8; 512];
            while !request.ends_with(b"\r\n\r\n") {
                let n = stream.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
            }
            stream.write_all(b"HTTP/1.0 200 OK\r\n\r\n{\"health\":\"true\"}")?;
            Ok(String::from_utf8_lossy(&request).into_owned())
        });
        let response = http_get(port, "/health", Duration::from_secs(5))?;
        let request = server
            .join()
            .map_err(|_| anyhow::anyhow!("server thread failed"))??;
        assert!(request.starts_with("GET /health HTTP/1.0\r\n"), "{request}");
        assert!(response.ends_with("{\"health\":\"true\"}"), "{response}");
        Ok(())
    }

    #[test]
    fn tail_returns_the_last_lines() -> Result<()> {
        let file = std::env::temp_dir().join(format!("edgefleet-tail-test-{}", std::process::id()));
        fs::write(&file, "a\nb\nc\nd\n")?;
        assert_eq!(tail(&file, 2), "c\nd");
        assert_eq!(tail(&file, 10), "a\nb\nc\nd");
        fs::remove_file(&file)?;
        assert!(tail(&file, 2).starts_with("(could not read"));
        Ok(())
    }
}
