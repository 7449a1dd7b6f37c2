//! What GitOps tools make of edgefleet objects: Flux's kstatus (the real `sigs.k8s.io/cli-utils` library,
//! through our Go program tests/kstatus, built and cached by xtask and named by `EDGEFLEET_KSTATUS`)
//! and Argo CD's health check (deploy/argocd/health.lua, run with `lua5.4` the way Argo CD runs it: the
//! object as the global `obj`). Reached as `support::gitops`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;
use serde_json::Value;

/// One tool's verdict on one object.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Verdict {
    /// kstatus: InProgress, Current, Failed, Terminating, ...; Argo CD: Progressing, Healthy, ...
    pub status: String,
    /// The tool's message.
    pub message: String,
}

fn repo(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Runs `program` with `input` on stdin; panics with stderr unless it succeeds; returns stdout.
fn run(mut cmd: Command, input: &[u8], what: &str) -> String {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what} could not be started: {e}"));
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The kstatus binary (`EDGEFLEET_KSTATUS`, set by `cargo xtask test` for the cluster phase).
pub fn kstatus_binary() -> PathBuf {
    let path = std::env::var_os("EDGEFLEET_KSTATUS")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "EDGEFLEET_KSTATUS is not set: run through `cargo xtask test`, or set it to the output of \
             `cargo xtask kstatus` (which builds tests/kstatus once)"
            )
        });
    PathBuf::from(path)
}

/// What kstatus (`status.Compute`) says of each object, in order.
pub fn kstatus(objects: &[Value]) -> Vec<Verdict> {
    let mut input = Vec::new();
    for obj in objects {
        serde_json::to_writer(&mut input, obj).unwrap();
        input.push(b'\n');
    }
    let out = run(Command::new(kstatus_binary()), &input, "the kstatus program");
    let verdicts: Vec<Verdict> = out
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("kstatus printed {line:?}: {e}")))
        .collect();
    assert_eq!(
        verdicts.len(),
        objects.len(),
        "one kstatus verdict per object: {out}"
    );
    verdicts
}

/// A JSON value as a Lua table constructor expression.
pub fn lua_literal(value: &Value) -> String {
    match value {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"), // Rust escapes (\" \\ \n) are valid in Lua strings
        Value::Array(items) => format!(
            "{{{}}}",
            items.iter().map(lua_literal).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("[{k:?}] = {}", lua_literal(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// What deploy/argocd/health.lua says of each object, in order (run once with `lua5.4`).
pub fn argocd_health(objects: &[Value]) -> Vec<Verdict> {
    let script = repo("deploy/argocd/health.lua");
    let mut harness = format!("local check = assert(loadfile({:?}))\n", script.to_str().unwrap());
    for obj in objects {
        // Argo CD hands the object to the script as the global `obj`.
        harness.push_str(&format!(
            "obj = {}\nlocal hs = check()\nprint(hs.status .. \"\\t\" .. string.gsub(hs.message or \"\", \"\\n\", \" \"))\n",
            lua_literal(obj)
        ));
    }
    let mut cmd = Command::new("lua5.4");
    cmd.arg("-");
    let out = run(
        cmd,
        harness.as_bytes(),
        "lua5.4 (needed for the Argo CD health check; .ci/run installs it)",
    );
    let verdicts: Vec<Verdict> = out
        .lines()
        .map(|line| {
            let (status, message) = line.split_once('\t').unwrap_or((line, ""));
            Verdict {
                status: status.to_owned(),
                message: message.to_owned(),
            }
        })
        .collect();
    assert_eq!(
        verdicts.len(),
        objects.len(),
        "one health verdict per object: {out}"
    );
    verdicts
}
