/** A node as Sentinel names it in its pub/sub messages. */
export interface SentinelAddress {
  readonly host: string;
  readonly port: number;
}

/** `+switch-master`: the master `name` moved from `from` to `to`. */
export interface SwitchMaster {
  readonly name: string;
  readonly from: SentinelAddress;
  readonly to: SentinelAddress;
}

/**
 * Parses a `+switch-master` message, `<name> <old ip> <old port> <new ip> <new port>`;
 * undefined when it has another shape.
 */
export function parseSwitchMaster(message: string): SwitchMaster | undefined {
  const [name, oldHost, oldPort, newHost, newPort, extra] = message.trim().split(/\s+/);
  if (!name || !oldHost || !newHost || extra !== undefined) return undefined;
  const from = address(oldHost, oldPort);
  const to = address(newHost, newPort);
  if (!from || !to) return undefined;
  return { name, from, to };
}

/** Any other instance event (`+sdown`, `+odown`, `+try-failover`, ...). */
export interface InstanceEvent {
  /** `master`, `slave` or `sentinel`. */
  readonly type: string;
  readonly name: string;
  readonly address: SentinelAddress | undefined;
  /** The master the instance belongs to: its own name for a master. */
  readonly masterName: string;
  /** That master's address (the instance's own for a master), when the message gives it. */
  readonly masterAddress: SentinelAddress | undefined;
}

/**
 * Parses `<type> <name> <ip> <port> [@ <master name> <master ip> <master port>]`,
 * the shape of every Sentinel event about an instance; undefined otherwise.
 */
export function parseInstanceEvent(message: string): InstanceEvent | undefined {
  const words = message.trim().split(/\s+/);
  const [type, name, host, port] = words;
  if (!type || !name) return undefined;
  const at = words.indexOf('@');
  const masterName = type === 'master' ? name : at >= 0 ? words[at + 1] : undefined;
  if (!masterName) return undefined;
  const own = host ? address(host, port) : undefined;
  const masterAddress =
    type === 'master' ? own : at >= 0 ? address(words[at + 2] ?? '', words[at + 3]) : undefined;
  return { type, name, address: own, masterName, masterAddress };
}

function address(host: string, port: string | undefined): SentinelAddress | undefined {
  const value = Number(port);
  if (!Number.isInteger(value) || value < 1 || value > 65535) return undefined;
  return { host, port: value };
}
