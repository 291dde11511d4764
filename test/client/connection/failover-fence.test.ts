import { describe, expect, it } from 'vitest';
import { FailoverFence } from '../../../client/connection/failover-fence.js';

const MASTER = 'master redscope 10.0.0.1 6379';
const heard = (fence: FailoverFence, ...sentinels: string[]) => {
  for (const s of sentinels) fence.hearing(s, true);
};

describe('the failover fence', () => {
  it('refuses until a majority of the Sentinels is heard', () => {
    const fence = new FailoverFence('redscope', 2);
    expect(fence.state()).toBe('deaf');
    heard(fence, 's1');
    // A minority: the majority on the other side of a partition could fail over unseen.
    expect(fence.state()).toBe('deaf');
    heard(fence, 's2');
    expect(fence.state()).toBe('open');
    fence.hearing('s1', false);
    expect(fence.state()).toBe('deaf');
  });

  it('forgets what an unheard Sentinel said, and takes its state again when it is back', () => {
    const fence = new FailoverFence('redscope', 2);
    fence.writerOn({ host: '10.0.0.1', port: 6379 });
    heard(fence, 's1', 's2');
    fence.handle('s1', '+odown', MASTER);
    expect(fence.state()).toBe('failover');
    // s1 goes away and misses -odown: what it said is dropped with it.
    fence.hearing('s1', false);
    heard(fence, 's3');
    expect(fence.state()).toBe('open');
    // Back, s1 says the master moved: closed until the writer follows.
    fence.resync(
      's1',
      { sdown: false, odown: false, failover: false },
      { host: '10.0.0.2', port: 6379 },
    );
    fence.hearing('s1', true);
    expect(fence.state()).toBe('failover');
    fence.writerOn({ host: '10.0.0.2', port: 6379 });
    expect(fence.state()).toBe('open');
  });

  it('does not close again for the late +switch-master of the other Sentinels', () => {
    const fence = new FailoverFence('redscope', 1);
    heard(fence, 's1', 's2');
    fence.handle('s1', '+switch-master', 'redscope 10.0.0.1 6379 10.0.0.2 6379');
    fence.writerOn({ host: '10.0.0.2', port: 6379 });
    const epoch = fence.epoch;
    fence.handle('s2', '+switch-master', 'redscope 10.0.0.1 6379 10.0.0.2 6379');
    expect(fence.state()).toBe('open');
    expect(fence.epoch).toBe(epoch);
  });

  it("keeps each Sentinel's view: one's -odown does not clear another's +odown", () => {
    const fence = new FailoverFence('redscope', 1);
    heard(fence, 's1', 's2');
    fence.handle('s1', '+odown', MASTER);
    fence.handle('s2', '-odown', MASTER);
    expect(fence.state()).toBe('failover');
  });

  it('closes on a failover step about the promoted replica', () => {
    const fence = new FailoverFence('redscope', 1);
    heard(fence, 's1');
    fence.handle(
      's1',
      '+promoted-slave',
      'slave 10.0.0.2:6379 10.0.0.2 6379 @ redscope 10.0.0.1 6379',
    );
    expect(fence.state()).toBe('failover');
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
    const fence = new FailoverFence('redscope', 1);
    heard(fence, 's1', 's2');
    fence.handle('s1', '+odown', `${MASTER} #quorum 2/2`);
    fence.handle('s1', '+try-failover', MASTER);
    fence.handle(
      's1',
      '+promoted-slave',
      'slave 10.0.0.2:6379 10.0.0.2 6379 @ redscope 10.0.0.1 6379',
    );
    fence.handle('s1', '+failover-end', MASTER);
    fence.handle('s1', '+switch-master', 'redscope 10.0.0.1 6379 10.0.0.2 6379');
    expect(fence.state()).toBe('failover');
    fence.writerOn({ host: '10.0.0.1', port: 6379 });
    expect(fence.state()).toBe('failover');
    fence.writerOn({ host: '10.0.0.2', port: 6379 });
    expect(fence.state()).toBe('open');
  });

  it('opens when the Sentinels agree the master is back and no failover started', () => {
    const fence = new FailoverFence('redscope', 1);
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

  it('ignores late events about a master that is no longer the master', () => {
    const fence = new FailoverFence('redscope', 1);
    fence.writerOn({ host: '10.0.0.1', port: 6379 });
    heard(fence, 's1', 's2');
    fence.handle('s1', '+odown', MASTER);
    fence.handle('s1', '+switch-master', 'redscope 10.0.0.1 6379 10.0.0.2 6379');
    fence.writerOn({ host: '10.0.0.2', port: 6379 });
    expect(fence.state()).toBe('open');
    // A slow Sentinel still reports the old master down: not about the master now.
    fence.handle('s2', '+odown', MASTER);
    expect(fence.state()).toBe('open');
    fence.handle('s2', '+odown', 'master redscope 10.0.0.2 6379 #quorum 2/2');
    expect(fence.state()).toBe('failover');
  });
});
