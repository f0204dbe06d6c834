/**
 * Usage of the failover commands. Outside drctl/src/failover/ so that `drctl --help` neither
 * loads that code nor needs it in the backup agent image, which does not ship it
 * (docs/architecture.md §3).
 */
export const FAILOVER_USAGE = `usage: drctl failover --to <site> [options]
       drctl failover reconcile --to <site> [options]
       drctl failover reconnect --to <site> [options]
       drctl failover rebuild --to <site> [options]
       drctl failback --to <site> [options]

  failover   activate <site>'s region with the pair's ARC Region switch plan, from that region
             only: check <site> is still a replica (RPO bound), both master secrets, where the
             Pulumi state lives, the newest backup; start the plan's execution
             (StartPlanExecution in <site>'s region) or follow the one in progress, print each
             step as it changes (GetPlanExecution), then check DNS answers with <site>. Reads the
             stack files only: no Pulumi CLI, no state backend. --print instead prints the
             console path and the aws arc-region-switch commands that do the same without drctl.
  reconcile  after the plan: check <site> takes a write, read its database back into its stack
             (refresh of that instance), update the stack to primary (primary-only settings in
             its own region, peerLinks false), check the next up is empty, declare the other
             stack fenced (config only).
  reconnect  once the old region answers: update the old stack to fenced, restore <site>'s links
             into the old region (peerLinks true), start S3 Batch Replication of what its bucket
             took meanwhile.
  rebuild    make <site> (today fenced, e.g. after a failback) the standby of the primary again:
             rebuild its database as a replica, re-protect it, wait for its lag.
  failback   return the primary to <site> (today fenced) with both regions up: rebuild it as
             standby of the current primary, wait for its lag, run the plan graceful to activate
             <site>'s region (its traffic on), reconcile both stacks, check DNS.

options:
  --to <site>             the site that becomes (reconcile, reconnect: is) the primary; rebuild:
                          the site rebuilt as standby
  --mode <mode>           failover: ungraceful (default; the other region's steps are skipped) or
                          graceful (a planned switchover with both regions up)
  --print                 failover: print the console and CLI steps; call nothing
  --plan-name <name>      the plan, when the account has several over the same two regions
  --max-data-loss <dur>   failover: refuse when the RPO bound is over this (default: refuse nothing)
  --follow-timeout <dur>  how long to follow the plan's execution (default 60m; it goes on in AWS)
  --max-lag <dur>         failback, rebuild: replica lag to wait for (default: dr-stack:alarms.replicaLagSeconds)
  --lag-timeout <dur>     failback, rebuild: how long to wait for the rebuilt replica (default 60m)
  --check-timeout <dur>   how long the write and DNS checks retry (default 5m)
  --deadline <name>=<dur> per-call deadline, repeatable; names and defaults: stack=60s, up=45m,
                          db=10s, aws=10s, dns=5s
  --work-dir <dir>        the Pulumi project directory (default: the current directory)
  --state-file <file>     progress file (default: <work-dir>/.drctl/<direction>-<site>.json)

Re-running the same command after a failure resumes at the step that failed, and follows the
plan's execution it started rather than starting another.
exit codes: 0 done, 1 a step failed, 2 an objective was breached (data loss, lag), 64 usage error
`;
