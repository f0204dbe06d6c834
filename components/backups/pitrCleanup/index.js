// The cleanup function of `drctl pitr-test` (components/backups/pitrJobs.ts): deletes one DB
// instance the test restored, and nothing else. The job identity holds no delete permission (the
// policy pack forbids it to every job); this function's own role may delete only instances named
// with the test prefix, and the function checks the tag the test sets besides, so a request for
// any other instance is refused even if the role's pattern were widened.
// Runs on Lambda's Node.js runtime, which ships the AWS SDK for JavaScript v3.
// https://docs.aws.amazon.com/lambda/latest/dg/lambda-nodejs.html
"use strict";
const {
  RDSClient,
  DescribeDBInstancesCommand,
  DeleteDBInstanceCommand,
} = require("@aws-sdk/client-rds");

const TAG_KEY = "dr-stack:purpose";
const TAG_VALUE = "pitr-test";

let client;

exports.handler = async (event) => {
  const prefix = process.env.PITR_PREFIX;
  const identifier = event && event.identifier;
  if (!prefix || typeof identifier !== "string" || !identifier.startsWith(`${prefix}-`)) {
    throw new Error(`refused: "${identifier}" is not a point-in-time test instance (${prefix}-…)`);
  }
  client = client || new RDSClient({});
  let db;
  try {
    const out = await client.send(
      new DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier }),
    );
    db = out.DBInstances && out.DBInstances[0];
  } catch (err) {
    if (err && err.name === "DBInstanceNotFoundFault")
      return { identifier, result: "already gone" };
    throw err;
  }
  const tags = (db && db.TagList) || [];
  if (!tags.some((t) => t.Key === TAG_KEY && t.Value === TAG_VALUE)) {
    throw new Error(`refused: ${identifier} has no ${TAG_KEY}=${TAG_VALUE} tag`);
  }
  if (db.DBInstanceStatus === "deleting") return { identifier, result: "already deleting" };
  // A throwaway copy: no final snapshot, and no automated backups left behind (it kept none).
  // https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBInstance.html
  await client.send(
    new DeleteDBInstanceCommand({
      DBInstanceIdentifier: identifier,
      SkipFinalSnapshot: true,
      DeleteAutomatedBackups: true,
    }),
  );
  return { identifier, result: "deleting" };
};
