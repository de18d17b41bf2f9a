//! Upload slots: the uploads one instance reads at once. Each holds a
//! database connection while its body arrives, so their number is bounded,
//! in all and per project.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::error::FailureError;

/// The uploads one instance reads at once: a fixed number in all, and at
/// most `per_project` of them for any one project, so one project's slow or
/// numerous uploads cannot keep every other project out.
#[derive(Debug)]
pub struct UploadSlots {
    all: Arc<Semaphore>,
    per_project: usize,
    /// Slots held per project; a project without any has no entry.
    projects: Mutex<HashMap<Uuid, usize>>,
    /// Slots held, exported as `failure_uploads_in_progress`.
    in_progress: Gauge,
}

impl UploadSlots {
    pub fn new(total: usize, per_project: usize, in_progress: Gauge) -> Self {
        Self {
            all: Arc::new(Semaphore::new(total)),
            per_project,
            projects: Mutex::new(HashMap::new()),
            in_progress,
        }
    }

    /// A slot for `project_id`, or why there is none (429 either way).
    pub(super) fn take(self: &Arc<Self>, project_id: Uuid) -> Result<UploadSlot, FailureError> {
        {
            let mut projects = self.projects.lock().unwrap_or_else(PoisonError::into_inner);
            let held = projects.entry(project_id).or_insert(0);
            if *held >= self.per_project {
                return Err(FailureError::ProjectUploadsBusy {
                    max: self.per_project,
                });
            }
            *held += 1;
        }
        let mut slot = UploadSlot {
            slots: Arc::clone(self),
            project_id,
            permit: None,
        };
        // Dropping `slot` on refusal gives the project's place back.
        let permit = Arc::clone(&self.all)
            .try_acquire_owned()
            .map_err(|_| FailureError::UploadsBusy)?;
        self.in_progress.inc();
        slot.permit = Some(permit);
        Ok(slot)
    }
}

/// A place among the uploads one instance reads at once, counted in the
/// `failure_uploads_in_progress` gauge while held.
pub(super) struct UploadSlot {
    slots: Arc<UploadSlots>,
    project_id: Uuid,
    permit: Option<OwnedSemaphorePermit>,
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        if self.permit.take().is_some() {
            self.slots.in_progress.dec();
        }
        let mut projects = self
            .slots
            .projects
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(held) = projects.get_mut(&self.project_id) {
            *held -= 1;
            if *held == 0 {
                projects.remove(&self.project_id);
            }
        }
    }
}
