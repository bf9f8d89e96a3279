import { conditionHolds } from '../rules/ruleSet';
import type { WorkflowDefinition } from './types';

export type Transition = WorkflowDefinition['transitions'][number];
export type EvidenceRef = NonNullable<Transition['evidence']>[number];

/** What a subject has to show: evidence present (by kind and key), and facts for the conditions. */
export interface WorkflowSubject {
  state: string;
  evidence: Array<{ kind: EvidenceRef['kind']; key: string }>;
  facts?: Record<string, unknown>;
}

export interface TransitionVerdict {
  transition: string;
  to: string;
  allowed: boolean;
  /** Why not, each reason a sentence a caseworker can act on. */
  blockers: Array<{ kind: 'permission' | 'evidence' | 'condition'; detail: string; evidence?: EvidenceRef }>;
  /** The conditions as evaluated, for the record of why the step was allowed. */
  conditions: unknown;
}

/**
 * The steps a pack workflow offers from a subject's state, each judged: the actor's permission, the
 * evidence the step names (forms, checks, documents, decisions), and its json-rules-engine conditions.
 * The workflow is data; nothing here knows a UK panel from a US home study.
 */
export async function availableTransitions(
  workflow: WorkflowDefinition,
  subject: WorkflowSubject,
  permissions: ReadonlySet<string>,
): Promise<TransitionVerdict[]> {
  if (!workflow.states.some((s) => s.key === subject.state))
    throw new Error(`"${subject.state}" is not a state of the workflow "${workflow.key}"`);
  const have = new Set(subject.evidence.map((e) => `${e.kind}:${e.key}`));
  const verdicts: TransitionVerdict[] = [];
  for (const transition of workflow.transitions.filter((t) => t.from.includes(subject.state))) {
    const blockers: TransitionVerdict['blockers'] = [];
    if (!permissions.has(transition.permission))
      blockers.push({ kind: 'permission', detail: `needs the permission ${transition.permission}` });
    for (const evidence of transition.evidence ?? []) {
      if (!have.has(`${evidence.kind}:${evidence.key}`))
        blockers.push({
          kind: 'evidence',
          detail: `missing ${evidence.kind} "${evidence.key}"${evidence.description ? `: ${evidence.description}` : ''}`,
          evidence,
        });
    }
    const { holds, conditions } = transition.conditions
      ? await conditionHolds(`workflow step ${transition.key}`, transition.conditions, subject.facts ?? {})
      : { holds: true, conditions: null };
    if (!holds)
      blockers.push({
        kind: 'condition',
        detail: `the step's conditions do not hold: ${JSON.stringify(transition.conditions)}`,
      });
    verdicts.push({
      transition: transition.key,
      to: transition.to,
      allowed: blockers.length === 0,
      blockers,
      conditions,
    });
  }
  return verdicts;
}
