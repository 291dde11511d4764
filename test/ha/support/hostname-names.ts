import { hostnameOf, topologyNodeNames } from '../../../stack/topology-node-config.js';

/** A name that resolves to `::1` in the scenario's namespace but is not in the server certificate. */
export const UNCERTIFIED_NAME = 'elsewhere.redscope.test';
/** A name that resolves nowhere (not in the namespace's hosts file). */
export const UNRESOLVABLE_NAME = 'redis-nope.redscope.test';
/** How the scenario's result line starts. */
export const RESULT_PREFIX = 'HOSTNAME_SCENARIO ';

/** Every name the scenario's namespace resolves to `::1`: the nodes of a default topology, and UNCERTIFIED_NAME. */
export function scenarioHostnames(): string[] {
  return [...topologyNodeNames(2, 3).map((name) => hostnameOf(name)), UNCERTIFIED_NAME];
}
