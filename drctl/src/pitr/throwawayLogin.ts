import { randomBytes } from "node:crypto";
import { Client, type ClientConfig } from "pg";

/**
 * A restored copy holds the passwords of its point in time, so no current secret is sure to open
 * it. What always works: RDS's ModifyDBInstance sets the copy's master password (the caller does
 * that), the master gives the backup login a throwaway password on the copy, and the checks run
 * as that login, with exactly the privileges the production dumps have (pg_read_all_data and the
 * SELECT policies on RLS tables), never with the master's. Neither password leaves this process,
 * and production is not touched: the copy is deleted afterwards.
 * https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html
 * https://www.postgresql.org/docs/current/sql-alterrole.html (a CREATEROLE role with ADMIN OPTION on
 * the login, which PostgreSQL 16 gives the role that created it, may change its password)
 */

/** 24 random bytes in base64url: letters, digits, - and _ (RDS refuses / ' " @ and spaces). */
export function throwawayPassword(): string {
  return randomBytes(24).toString("base64url");
}

export async function throwawayLogin(
  conn: Omit<ClientConfig, "user" | "password">,
  master: { readonly user: string; readonly password: string },
  login: string,
): Promise<{ user: string; password: string }> {
  const client = new Client({ ...conn, user: master.user, password: master.password });
  client.on("error", () => undefined);
  const password = throwawayPassword();
  try {
    await client.connect();
    await client.query(
      `alter role ${client.escapeIdentifier(login)} password ${client.escapeLiteral(password)}`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
  return { user: login, password };
}
