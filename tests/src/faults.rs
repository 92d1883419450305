//! Faults forced at a chosen moment: a control plane component killed exactly when the operator
//! is about to send a given write, so a crash lands in the middle of a reconcile by construction,
//! not by luck. The write counter's layer (`cluster::client`) carries the gate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::cluster::control_plane_script;

/// Kill `component` when the operator is about to send a `method` request whose path contains
/// `path_contains`; it is started again in the background right after, so the request meets a
/// dead component (the API server refuses the connection; the API server's write to a dead etcd
/// waits or fails) while the rest of the reconcile is still to come.
#[derive(Clone, Debug)]
pub struct Fault {
    pub method: http::Method,
    pub path_contains: String,
    pub component: &'static str,
}

/// An armed fault, fired once.
#[derive(Clone, Default)]
pub struct FaultGate {
    armed: Arc<Mutex<Option<Fault>>>,
    fired: Arc<AtomicU64>,
}

fn control_plane(args: &[&str]) -> Result<(), String> {
    control_plane_script(args).map(drop)
}

impl FaultGate {
    /// Arms the gate for the next matching request.
    pub fn arm(&self, fault: Fault) {
        if let Ok(mut armed) = self.armed.lock() {
            *armed = Some(fault);
        }
    }

    /// How many faults fired so far.
    pub fn fired(&self) -> u64 {
        self.fired.load(Ordering::SeqCst)
    }

    /// Called before each request is sent: fires the armed fault if the request matches. The
    /// kill completes before the request goes on; the restart runs in the background.
    pub fn before<B>(&self, request: &http::Request<B>) {
        let fault = {
            let Ok(mut armed) = self.armed.lock() else { return };
            let matches = armed.as_ref().is_some_and(|fault| {
                request.method() == fault.method && request.uri().path().contains(&fault.path_contains)
            });
            if !matches {
                return;
            }
            armed.take()
        };
        let Some(fault) = fault else { return };
        if let Err(error) = control_plane(&["kill", fault.component]) {
            eprintln!("fault {fault:?} not injected: {error}");
            return;
        }
        self.fired.fetch_add(1, Ordering::SeqCst);
        std::thread::spawn(move || {
            if let Err(error) = control_plane(&["revive"]) {
                eprintln!("revive after {fault:?}: {error}");
            }
        });
    }
}
