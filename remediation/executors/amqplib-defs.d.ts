/** Method ids of amqplib's AMQP 0-9-1 definitions, which the package ships without types. */
declare module 'amqplib/lib/defs.js' {
  const defs: {
    TxSelect: number;
    TxSelectOk: number;
    TxCommit: number;
    TxCommitOk: number;
    TxRollback: number;
    TxRollbackOk: number;
  };
  export default defs;
}
