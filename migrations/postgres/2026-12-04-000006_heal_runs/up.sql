-- am-executor's run audit, posted with `--report-to`: one row per run or skip of a command.
-- `alertnames` is `,A,B,` so that a rule's runs are found by its name; `command` and
-- `fingerprints` are JSON lists.
CREATE TABLE heal_runs (
    id BIGSERIAL PRIMARY KEY,
    reporter TEXT NOT NULL,
    time TIMESTAMP NOT NULL,
    command TEXT NOT NULL,
    receiver TEXT NOT NULL,
    group_key TEXT NOT NULL,
    alertnames TEXT NOT NULL,
    fingerprints TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('succeeded', 'failed', 'skipped')),
    exit_code INTEGER,
    signal INTEGER,
    duration_ms BIGINT,
    reason TEXT
);

CREATE INDEX heal_runs_time ON heal_runs (time);
