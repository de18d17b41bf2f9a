//! Parsed test cases into batches of rows for the writer.

use std::collections::HashMap;

use tokio::sync::mpsc;
use uuid::Uuid;

use crate::domain::{self, FailureRow, ResultRow};
use crate::junit::{FailureDetail, JunitError, ParsedCase};

/// Collects parsed cases into batches unique by test, merging repeats
/// (retries written as repeated testcases) the way the database does
/// across batches.
#[derive(Debug)]
pub(super) struct Batcher<'a> {
    project_id: Uuid,
    batch_size: usize,
    rows: Vec<ResultRow>,
    index: HashMap<Uuid, usize>,
    sender: &'a mpsc::Sender<Vec<ResultRow>>,
}

impl<'a> Batcher<'a> {
    pub(super) fn new(
        project_id: Uuid,
        batch_size: usize,
        sender: &'a mpsc::Sender<Vec<ResultRow>>,
    ) -> Self {
        Self {
            project_id,
            batch_size,
            rows: Vec::new(),
            index: HashMap::new(),
            sender,
        }
    }

    pub(super) fn push(&mut self, case: ParsedCase) -> Result<(), JunitError> {
        let row = result_row(self.project_id, case);
        match self.index.get(&row.test_id) {
            Some(&position) => self.rows[position].merge_repeat(row),
            None => {
                self.index.insert(row.test_id, self.rows.len());
                self.rows.push(row);
            }
        }
        if self.rows.len() >= self.batch_size {
            self.flush()?;
        }
        Ok(())
    }

    /// Sends what was collected; [`JunitError::Abandoned`] when the writer
    /// is gone (it failed, and the upload with it).
    pub(super) fn flush(&mut self) -> Result<(), JunitError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        self.index.clear();
        let rows = std::mem::take(&mut self.rows);
        self.sender
            .blocking_send(rows)
            .map_err(|_| JunitError::Abandoned)
    }
}

fn result_row(project_id: Uuid, case: ParsedCase) -> ResultRow {
    let scope = case
        .file
        .as_deref()
        .filter(|_| case.suite.is_empty())
        .unwrap_or(&case.suite);
    let test_id = domain::test_id(project_id, scope, &case.classname, &case.name);
    let failure_row = |detail: FailureDetail| {
        FailureRow::new(
            project_id,
            detail.kind,
            detail.error_type,
            detail.message,
            detail.stack_trace,
            detail.system_out,
            detail.system_err,
        )
    };
    ResultRow {
        test_id,
        failure: case.failure.map(failure_row),
        attempts: case.attempts.into_iter().map(failure_row).collect(),
        suite: case.suite,
        classname: case.classname,
        name: case.name,
        file: case.file,
        status: case.status,
        duration_ms: case.duration_ms,
        retries: case.retries,
    }
}
