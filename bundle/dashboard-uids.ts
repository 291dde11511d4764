/**
 * Stable dashboard identities. Alert rules link to these (dashboard_url), so a uid
 * never changes once shipped; bump `version` in the dashboard instead.
 */
export const DASHBOARDS = {
  overview: { uid: 'redscope-overview', slug: 'redscope-overview', title: 'Redis overview' },
  instance: { uid: 'redscope-instance', slug: 'redscope-instance', title: 'Redis instance' },
} as const;

export type DashboardKey = keyof typeof DASHBOARDS;
