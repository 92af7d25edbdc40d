/**
 * Rewrites the single-node schema for a ClickHouse cluster of one shard and
 * several replicas: every DDL statement runs `ON CLUSTER`, MergeTree engines
 * become their Replicated variants, and deduplication windows use the
 * replicated setting. Each server needs ClickHouse Keeper, the cluster in
 * `remote_servers` and the `{shard}` and `{replica}` macros.
 */

/** Keeper path of each replicated table, where `{database}` and `{table}` are macros ClickHouse fills in itself. */
export const REPLICATED_TABLE_PATH = '/clickhouse/tables/{shard}/{database}/{table}';

const CLUSTER_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Throws unless `cluster` is a plain identifier, because it is written into DDL unquoted. */
export function checkClusterName(cluster: string): void {
  if (!CLUSTER_NAME.test(cluster)) {
    throw new Error(`invalid ClickHouse cluster name "${cluster}"; expected letters, digits and "_", as in remote_servers`);
  }
}

/**
 * The DDL heads that name one object. `ON CLUSTER` goes right after the
 * object's name in each of them.
 */
const DDL_HEAD =
  /^(\s*(?:CREATE\s+(?:OR\s+REPLACE\s+)?(?:TABLE|VIEW|MATERIALIZED\s+VIEW|DICTIONARY)(?:\s+IF\s+NOT\s+EXISTS)?|ALTER\s+TABLE|DROP\s+(?:TABLE|VIEW|DICTIONARY)(?:\s+IF\s+EXISTS)?)\s+([A-Za-z_][A-Za-z0-9_.]*))/i;

/** `ENGINE = <Kind>MergeTree` with its optional argument list. */
const MERGE_TREE_ENGINE = /ENGINE\s*=\s*(Replacing|Aggregating|Summing|Collapsing|VersionedCollapsing|)MergeTree\b(\s*\(([^)]*)\))?/gi;

/** Returns `statement` as it must run on `cluster`, or unchanged when there is no cluster. */
export function adaptStatementForCluster(statement: string, cluster: string | undefined): string {
  if (cluster === undefined) return statement;
  checkClusterName(cluster);

  const head = DDL_HEAD.exec(statement);
  if (!head) {
    throw new Error(`cannot run this migration statement on a cluster, because it is not a CREATE, ALTER or DROP of one object: ${statement.trim().slice(0, 80)}`);
  }
  let adapted = `${head[1]} ON CLUSTER ${cluster}${statement.slice(head[0].length)}`;

  adapted = adapted.replace(MERGE_TREE_ENGINE, (_match, kind: string, _list: string | undefined, args: string | undefined) => {
    const replicationArgs = `'${REPLICATED_TABLE_PATH}', '{replica}'`;
    const engineArgs = args?.trim() ? `${replicationArgs}, ${args.trim()}` : replicationArgs;
    return `ENGINE = Replicated${kind}MergeTree(${engineArgs})`;
  });
  return adapted.replace(/\bnon_replicated_deduplication_window\b/g, 'replicated_deduplication_window');
}
