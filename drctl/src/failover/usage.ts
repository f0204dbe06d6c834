/** Kept apart from command.ts so that `drctl --help` does not load the Pulumi Automation API. */
export const FAILOVER_USAGE = `usage: drctl failover --to <site> [options]
       drctl failback --to <site> [options]

  failover  make <site> (today the standby) the primary: fence the old primary if its region
            answers (if not, delete its PRIMARY DNS record in Route 53 instead), promote <site>
            (standby -> promoting -> primary), check a write and DNS.
  failback  return the primary to <site> (today fenced): rebuild it as standby of the current
            primary, wait for its replica lag, then switch over (fence, promote, check).

options:
  --to <site>           the site that becomes primary (a key of dr-stack:sites)
  --plan                print every step and config change; change nothing
  --force               failover only: promote even if replica lag is over --max-lag (loses writes)
  --max-lag <dur>       replica lag limit, e.g. 30s (default: dr-stack:alarms.replicaLagSeconds)
  --lag-timeout <dur>   failback: how long to wait for the rebuilt replica to catch up (default 60m)
  --check-timeout <dur> how long the write and DNS checks retry (default 5m)
  --work-dir <dir>      the Pulumi project directory (default: the current directory)
  --state-file <file>   progress file (default: <work-dir>/.drctl/failover-<site>.json)

Re-running the same command after a failure resumes at the step that failed.
exit codes: 0 done, 1 a step failed, 2 an objective was breached (lag), 64 usage error
`;
