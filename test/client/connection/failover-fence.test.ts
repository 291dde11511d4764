import { describe, expect, it } from 'vitest';
import { FailoverFence } from '../../../client/connection/failover-fence.js';

const MASTER = 'master redscope 10.0.0.1 6379';
const heard = (fence: FailoverFence, ...sentinels: string[]) => {
  for (const s of sentinels) fence.hearing(s, true);
};

describe('the failover fence', () => {
  it('refuses while no Sentinel is heard, and opens when one is', () => {
    const fence = new FailoverFence('redscope', 2);
    expect(fence.state()).toBe('deaf');
    heard(fence, 's1');
    expect(fence.state()).toBe('open');
    fence.hearing('s1', false);
    expect(fence.state()).toBe('deaf');
  });

  it('closes at a quorum of +sdown, not at one Sentinel alone, and counts the closing', () => {
    const fence = new FailoverFence('redscope', 2);
    heard(fence, 's1', 's2', 's3');
    const epoch = fence.epoch;
    fence.handle('s1', '+sdown', MASTER);
    expect(fence.state()).toBe('open');
    fence.handle('s2', '+sdown', MASTER);
    expect(fence.state()).toBe('failover');
    expect(fence.epoch).toBe(epoch + 1);
    fence.handle('s2', '-sdown', MASTER);
    fence.handle('s1', '-sdown', MASTER);
    expect(fence.state()).toBe('open');
  });

  it('stays closed through a failover until the writer is on the announced master', () => {
    const fence = new FailoverFence('redscope', 2);
    heard(fence, 's1', 's2');
    fence.handle('s1', '+odown', `${MASTER} #quorum 2/2`);
    fence.handle('s1', '+try-failover', MASTER);
    fence.handle(
      's1',
      '+promoted-slave',
      'slave 10.0.0.2:6379 10.0.0.2 6379 @ redscope 10.0.0.1 6379',
    );
    fence.handle('s1', '+switch-master', 'redscope 10.0.0.1 6379 10.0.0.2 6379');
    fence.handle('s1', '-odown', MASTER);
    expect(fence.state()).toBe('failover');
    fence.writerOn({ host: '10.0.0.1', port: 6379 });
    expect(fence.state()).toBe('failover');
    fence.writerOn({ host: '10.0.0.2', port: 6379 });
    expect(fence.state()).toBe('open');
  });

  it('opens when the Sentinels agree the master is back and no failover started', () => {
    const fence = new FailoverFence('redscope', 2);
    heard(fence, 's1');
    fence.handle('s1', '+odown', MASTER);
    expect(fence.state()).toBe('failover');
    fence.handle('s1', '-odown', MASTER);
    expect(fence.state()).toBe('open');
  });

  it('ignores events about other masters, replicas and garbage', () => {
    const fence = new FailoverFence('redscope', 1);
    heard(fence, 's1');
    fence.handle('s1', '+sdown', 'master other 10.0.0.9 6379');
    fence.handle('s1', '+sdown', 'slave 10.0.0.2:6379 10.0.0.2 6379 @ redscope 10.0.0.1 6379');
    fence.handle('s1', '+odown', 'not a sentinel message');
    fence.handle('s1', '+switch-master', 'other 10.0.0.9 6379 10.0.0.8 6379');
    expect(fence.state()).toBe('open');
    expect(fence.epoch).toBe(0);
  });

  it('adds up the time it was closed', async () => {
    const fence = new FailoverFence('redscope', 1);
    heard(fence, 's1');
    fence.handle('s1', '+odown', MASTER);
    await new Promise((resolve) => setTimeout(resolve, 30));
    fence.handle('s1', '-odown', MASTER);
    const total = fence.closedSecondsTotal();
    expect(total).toBeGreaterThanOrEqual(0.025);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(fence.closedSecondsTotal()).toBe(total);
  });
});
