import { loadPacks } from './registry';
import type { WorkflowDefinition } from './types';
import { availableTransitions } from './workflows';

const registry = loadPacks();
const ukApproval = registry.resolve('uk').points.workflows.get('carer-approval')!.value as WorkflowDefinition;
const assessor = new Set(['carers:assess']);

describe('a pack workflow, judged step by step', () => {
  it('refuses to move a UK carer on from stage 1 while a required check is missing, and says which', async () => {
    const verdicts = await availableTransitions(
      ukApproval,
      {
        state: 'stage_1',
        evidence: [
          { kind: 'form', key: 'form-f-stage1' },
          { kind: 'check', key: 'dbs_enhanced' },
          { kind: 'check', key: 'personal_reference' },
        ],
        facts: { missingChecks: 1 },
      },
      assessor,
    );
    const complete = verdicts.find((v) => v.transition === 'complete_stage_1')!;
    expect(complete.allowed).toBe(false);
    expect(complete.blockers.map((b) => b.kind).sort()).toEqual(['condition', 'evidence']);
    expect(complete.blockers.find((b) => b.kind === 'evidence')!.evidence).toMatchObject({
      kind: 'check',
      key: 'medical',
    });
  });

  it('allows it once the checks are complete, recording the conditions that held', async () => {
    const verdicts = await availableTransitions(
      ukApproval,
      {
        state: 'stage_1',
        evidence: ['form:form-f-stage1', 'check:dbs_enhanced', 'check:medical', 'check:personal_reference'].map(
          (e) => ({ kind: e.split(':')[0] as 'form' | 'check', key: e.split(':')[1]! }),
        ),
        facts: { missingChecks: 0 },
      },
      assessor,
    );
    const complete = verdicts.find((v) => v.transition === 'complete_stage_1')!;
    expect(complete).toMatchObject({ allowed: true, to: 'stage_2', blockers: [] });
    expect(JSON.stringify(complete.conditions)).toContain('"factResult":0');
  });

  it('needs the named permission: an assessor cannot make the agency decision', async () => {
    const verdicts = await availableTransitions(
      ukApproval,
      {
        state: 'adm_decision',
        evidence: [
          { kind: 'decision', key: 'panel_recommendation' },
          { kind: 'decision', key: 'adm_decision' },
        ],
      },
      assessor,
    );
    const approve = verdicts.find((v) => v.to === 'approved')!;
    expect(approve.allowed).toBe(false);
    expect(approve.blockers).toEqual([{ kind: 'permission', detail: 'needs the permission carers:approve' }]);
  });

  it('offers the USA resource family approval from its own data, without core knowing either', async () => {
    const usa = registry.resolve('usa/ca').points.workflows.get('resource-family-approval')!
      .value as WorkflowDefinition;
    const verdicts = await availableTransitions(usa, { state: usa.initial, evidence: [] }, new Set(['carers:assess']));
    expect(verdicts.length).toBeGreaterThan(0);
    expect(verdicts.every((v) => usa.states.some((s) => s.key === v.to))).toBe(true);
  });
});
