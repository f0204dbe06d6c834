import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  LocalCluster,
  makeServerDir,
  serverSpawnIdentity,
} from "../../drctl/src/postgres/localCluster";

/** A throwaway CA: its certificate (PEM file) and key, made with the machine's openssl. */
export interface TestCa {
  readonly cert: string;
  readonly key: string;
}

const openssl = (args: string[], cwd: string): void => {
  execFileSync("openssl", args, { cwd, stdio: "pipe" });
};

/** P-256 keys: a tenth of the time RSA-2048 takes to generate. */
const NEW_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

export function makeCa(dir: string, name: string): TestCa {
  openssl(
    [
      "req",
      "-x509",
      ...NEW_KEY,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.crt`,
      "-days",
      "2",
      "-subj",
      `/CN=${name}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign",
    ],
    dir,
  );
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

/** A server certificate that `ca` signed, valid for `dnsName` only (no IP address in it). */
function serverCert(dir: string, ca: TestCa, dnsName: string): { cert: string; key: string } {
  openssl(
    ["req", ...NEW_KEY, "-keyout", "server.key", "-out", "server.csr", "-subj", `/CN=${dnsName}`],
    dir,
  );
  writeFileSync(join(dir, "server.ext"), `subjectAltName=DNS:${dnsName}\n`);
  openssl(
    [
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      ca.cert,
      "-CAkey",
      ca.key,
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      "server.ext",
      "-out",
      "server.crt",
    ],
    dir,
  );
  return { cert: join(dir, "server.crt"), key: join(dir, "server.key") };
}

export interface TlsCluster {
  readonly cluster: LocalCluster;
  /** The CA that signed the server's certificate (for `localhost` only). */
  readonly ca: TestCa;
  /** A CA that did not. */
  readonly otherCa: TestCa;
  /** The database only TLS connections may reach (pg_hba `hostssl`). */
  readonly database: string;
}

/**
 * A LocalCluster with ssl=on and a certificate for `localhost` signed by a throwaway CA. Its
 * pg_hba lets database `database` be reached over TLS only (`hostssl`); a plain `host` line is
 * left for the `postgres` database alone, which LocalCluster's readiness probe connects to.
 * https://www.postgresql.org/docs/current/ssl-tcp.html (the key file must belong to the server's
 * user, mode 0600), https://www.postgresql.org/docs/current/auth-pg-hba-conf.html (hostssl).
 */
export async function startTlsCluster(database = "app"): Promise<TlsCluster> {
  const dir = makeServerDir("drstack-tls-");
  const ca = makeCa(dir, "test-ca");
  const otherCa = makeCa(dir, "other-ca");
  const server = serverCert(dir, ca, "localhost");
  const hba = join(dir, "pg_hba.conf");
  writeFileSync(
    hba,
    [
      `host    postgres    postgres 127.0.0.1/32 trust`,
      `hostssl ${database} all      127.0.0.1/32 trust`,
      "",
    ].join("\n"),
  );
  const who = serverSpawnIdentity();
  for (const f of [server.cert, server.key, hba]) {
    if (who) chownSync(f, who.uid, who.gid);
    chmodSync(f, 0o600);
  }
  const cluster = await LocalCluster.init({
    baseDir: dir,
    settings: {
      fsync: "off",
      ssl: "on",
      ssl_cert_file: server.cert,
      ssl_key_file: server.key,
      hba_file: hba,
    },
  });
  await cluster.start();
  return { cluster, ca, otherCa, database };
}
