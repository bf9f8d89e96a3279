import { loadPacks } from '../packs/registry';
import type { WorkflowDefinition } from '../packs/types';
import { approvalJourney } from './approvalHistory';
import { castStaff, generateDemoService, lastCompletePeriod } from './demoService';
import { DEMO_TENANTS } from './seed';
import { CALIFORNIA, ENGLAND } from './vocabularies';

const weekly = {
  frequency: 'weekly' as const,
  timing: 'arrears' as const,
  anchorDate: '2026-01-05',
  paymentLagDays: 3,
};
const monthly = {
  frequency: 'monthly' as const,
  timing: 'arrears' as const,
  anchorDate: '2026-01-01',
  paymentLagDays: 3,
};

describe('the demo service', () => {
  it('runs the last whole pay period before today: never the one today is in', () => {
    // 7 December 2026 is a Monday: the week that ended yesterday.
    expect(lastCompletePeriod(weekly, '2026-12-07')).toEqual({
      start: '2026-11-30',
      end: '2026-12-06',
      paymentDate: '2026-12-09',
    });
    expect(lastCompletePeriod(weekly, '2026-12-06')).toEqual({
      start: '2026-11-23',
      end: '2026-11-29',
      paymentDate: '2026-12-02',
    });
    expect(lastCompletePeriod(monthly, '2026-12-01')).toEqual({
      start: '2026-11-01',
      end: '2026-11-30',
      paymentDate: '2026-12-03',
    });
    expect(lastCompletePeriod(monthly, '2027-01-31')).toEqual({
      start: '2026-12-01',
      end: '2026-12-31',
      paymentDate: '2027-01-03',
    });
  });

  it('gives the demo caseworker most of the children and the supervisor the households, and every other worker keeps theirs', () => {
    const uk = DEMO_TENANTS.find((t) => t.slug === 'demo-uk')!;
    const service = generateDemoService(uk.service!, uk.slug, '2026-12-07');
    const people = {
      caseworker: { id: 'c0000000-0000-4000-8000-000000000001', email: 'cw@x.example', displayName: 'Cas Worker' },
      supervisor: { id: 'c0000000-0000-4000-8000-000000000002', email: 'su@x.example', displayName: 'Sue Pervisor' },
    };
    const cast = castStaff(service, people);
    const workers = new Set(cast.workers.map((w) => w.id));
    expect(cast.children.filter((c) => c.allocatedWorkerId === people.caseworker.id).length).toBeGreaterThan(
      cast.children.length / 2,
    );
    // No child or household is left with a worker who is not one of the service's.
    expect(cast.children.filter((c) => !workers.has(c.allocatedWorkerId))).toEqual([]);
    expect(cast.households.filter((h) => !workers.has(h.supervisingWorkerId))).toEqual([]);
    expect(
      cast.workers
        .filter((w) => w.id === people.caseworker.id || w.id === people.supervisor.id)
        .map((w) => [w.role, w.email]),
    ).toEqual([
      ['caseworker', 'cw@x.example'],
      ['supervisor', 'su@x.example'],
    ]);
    expect(cast.households.every((h) => h.supervisingWorkerId === people.supervisor.id)).toBe(true);
  });

  it("takes each household's approval the way its pack's workflow goes, and knows its reviews and ending", () => {
    const packs = loadPacks();
    const carerWorkflow = (packId: string) =>
      [...packs.resolve(packId).points.workflows.values()]
        .map((w) => w.value as unknown as WorkflowDefinition)
        .find((w) => w.subject === 'carer_household')!;
    const keys = (journey: ReturnType<typeof approvalJourney>) => ({
      toApproval: journey!.toApproval.map((t) => t.key),
      approvedState: journey!.approvedState,
      review: journey!.review?.map((t) => t.key) ?? null,
      ending: journey!.ending?.key ?? null,
    });
    expect(keys(approvalJourney(carerWorkflow('uk'), ENGLAND.endOfApproval))).toEqual({
      toApproval: [
        'book_initial_visit',
        'receive_application',
        'start_stage_1',
        'complete_stage_1',
        'refer_to_panel',
        'record_panel_recommendation',
        'adm_approve',
      ],
      approvedState: 'approved',
      review: ['start_annual_review', 'complete_annual_review'],
      ending: 'resign',
    });
    expect(keys(approvalJourney(carerWorkflow('usa/ca'), CALIFORNIA.endOfApproval))).toEqual({
      toApproval: [
        'attend_orientation',
        'submit_application',
        'request_background_checks',
        'clear_background_checks',
        'complete_training',
        'pass_home_inspection',
        'submit_home_study',
        'approve',
      ],
      approvedState: 'approved',
      review: ['start_annual_update', 'complete_annual_update'],
      ending: 'close',
    });
  });
});
