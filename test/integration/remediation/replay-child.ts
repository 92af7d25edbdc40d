/**
 * A syncwatch process for the dead-letter kill test. Mode `approve` records
 * two approvals of a proposal, and the second one runs its execution. Mode
 * `resume` runs what a killed process left unfinished. The last line on
 * stdout is the proposal as JSON. A fourth argument names the PostgreSQL
 * schema of the control plane.
 */
import { pino } from 'pino';
import { configSchema } from '../../../config/index.js';
import { openRemediation } from '../../../remediation/index.js';

const [mode, proposalId, configJson, schema] = process.argv.slice(2);
if (!mode || !proposalId || !configJson) throw new Error('usage: replay-child.ts approve|resume <proposal id> <config json> [schema]');

const remediation = await openRemediation({
  config: configSchema.parse(JSON.parse(configJson)),
  logger: pino({ level: 'silent' }),
  schema: schema || undefined,
  executeInBackground: false,
});
if (mode === 'approve') {
  await remediation.decide({ proposalId, decision: 'approve', userName: 'alice', channel: 'api' });
  process.stdout.write('approved once\n');
  await remediation.decide({ proposalId, decision: 'approve', userName: 'bob', channel: 'slack' });
} else {
  await remediation.runPendingExecutions();
}
process.stdout.write(`${JSON.stringify(await remediation.getProposal(proposalId))}\n`);
await remediation.close();
