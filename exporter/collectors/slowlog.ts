import { compatFamily } from '../exposition.js';
import type { Collector, RedisCommand } from './types.js';

const SLOWLOG_LEN: RedisCommand = ['SLOWLOG', 'LEN'];
const SLOWLOG_GET_1: RedisCommand = ['SLOWLOG', 'GET', '1'];

const slowlogLength = compatFamily({
  name: 'redis_slowlog_length',
  type: 'gauge',
  help: 'Total slowlog',
  labels: [],
  source: 'SLOWLOG LEN',
});
const slowlogLastId = compatFamily({
  name: 'redis_slowlog_last_id',
  type: 'gauge',
  help: 'Last id of slowlog',
  labels: [],
  source: 'SLOWLOG GET 1: id',
});
const lastSlowExecution = compatFamily({
  name: 'redis_last_slow_execution_duration_seconds',
  type: 'gauge',
  help: 'The amount of time needed for last slow execution, in seconds',
  labels: [],
  source: 'SLOWLOG GET 1: duration (µs), in seconds',
});

export const slowlogCollector: Collector = {
  name: 'slowlog',
  modes: ['redis'],
  commands: [SLOWLOG_LEN, SLOWLOG_GET_1],
  families: [slowlogLength, slowlogLastId, lastSlowExecution],
  collect(context, sink) {
    sink.add(slowlogLength, Number(context.reply(SLOWLOG_LEN)));
    const entries = context.reply(SLOWLOG_GET_1);
    const last = Array.isArray(entries) ? entries[0] : undefined;
    const id = Array.isArray(last) ? Number(last[0]) : 0;
    const durationUsec = Array.isArray(last) ? Number(last[2]) : 0;
    sink.add(slowlogLastId, id);
    sink.add(lastSlowExecution, durationUsec / 1e6);
  },
};
