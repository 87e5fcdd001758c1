// The load generator process. run.mjs forks one per measured run, sends
// { scenario, port, brokerPid, broker, params, topology? } over IPC and gets { ok, result } or { ok: false, error }
// back. Keeping it in its own process separates its CPU from the broker's and from the
// orchestrator's.
import { scenarioFunctions } from './scenarios.mjs';
import { fairness, publishLatency } from './scenarios-latency.mjs';

const functions = { ...scenarioFunctions, publishLatency, fairness };

process.once('message', async (message) => {
  let reply;
  try {
    const run = functions[message.scenario];
    if (run === undefined) throw new Error(`unknown scenario ${message.scenario}`);
    // The cluster scenarios (lib/cluster.mjs): the CPU of every node's process tree, NATS and
    // PostgreSQL (lib/flow.mjs Window); `topology` also says where clients connect (lib/topology.mjs).
    if (message.topology !== undefined)
      message.brokerPid = { roots: message.topology.pids, infra: message.topology.infra };
    reply = { ok: true, result: await run(message) };
  } catch (error) {
    reply = { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
  process.send(reply, () => {
    process.disconnect();
    // Sockets are closed by the scenario; exit even if one lingers.
    setTimeout(() => process.exit(0), 100).unref();
  });
});

process.on('disconnect', () => process.exit(0));
