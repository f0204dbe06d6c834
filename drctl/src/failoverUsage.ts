/**
 * Usage of the failover orchestrator. Outside drctl/src/failover/ so that `drctl --help` neither
 * loads the orchestrator nor needs it in the backup agent image, which does not ship it (DESIGN §3).
 */
export const FAILOVER_USAGE = `usage: drctl failover --to <site> [options]
       drctl failover reconnect --to <site> [options]
       drctl failback --to <site> [options]

  failover   make <site> (today the standby) the primary without anything from the old region:
             report the RPO bound from <site>'s replica, switch the old site's traffic control
             off, fence its database with SQL if it answers (bounded), promote <site> in its own
             region (standby -> promoting -> primary, peerLinks false), check a write and DNS.
  reconnect  once the old region answers: fence the old stack (role fenced), switch <site>'s
             traffic control on, restore its links into the old region (peerLinks true) and
             start S3 Batch Replication of what its bucket took meanwhile.
  failback   return the primary to <site> (today fenced) with both regions up: rebuild it as
             standby of the current primary, wait for its lag, fence the current primary
             (traffic off, SQL fence, drain), promote, switch traffic on, reconnect.

options:
  --to <site>             the site that becomes (reconnect: is) the primary
  --plan                  print every step, the region and service of each call; change nothing
  --max-data-loss <dur>   failover: refuse when the RPO bound is over this (default: refuse nothing)
  --skip-fence            failover: neither the traffic control nor the SQL fence of the old site
  --max-lag <dur>         failback: replica lag to wait for (default: dr-stack:alarms.replicaLagSeconds)
  --lag-timeout <dur>     failback: how long to wait for the rebuilt replica (default 60m)
  --check-timeout <dur>   how long the write and DNS checks retry (default 5m)
  --deadline <name>=<dur> per-call deadline, repeatable; names and defaults: stack=60s, up=45m,
                          db=10s, fence=15s, aws=10s, dns=5s, drain=2m
  --work-dir <dir>        the Pulumi project directory (default: the current directory)
  --state-file <file>     progress file (default: <work-dir>/.drctl/<failover|reconnect>-<site>.json)

Re-running the same command after a failure resumes at the step that failed.
exit codes: 0 done, 1 a step failed, 2 an objective was breached (data loss, lag), 64 usage error
`;
