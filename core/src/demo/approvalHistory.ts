import type { WorkflowDefinition } from '../packs/types';

type Transition = WorkflowDefinition['transitions'][number];

/** The steps a household's approval takes on a workflow, found from the workflow itself (pack data). */
export interface ApprovalJourney {
  workflowKey: string;
  /** From the workflow's first state to approval, the shortest way; the last step approves. */
  toApproval: Transition[];
  approvedState: string;
  /** A review's two steps (out of the approved state and back), where the workflow has them. */
  review: [Transition, Transition] | null;
  /** The step that ends an approval when the household stops fostering. */
  ending: Transition | null;
}

const terminal = (workflow: WorkflowDefinition, state: string) =>
  Boolean(workflow.states.find((s) => s.key === state)?.terminal);

/**
 * The approval decision is the step taken under `carers:approve` into a state not yet visited that
 * is not an end (as the carers module tells an approval from a review); the way to it is found
 * breadth first over steps that do not end the journey, so withdrawals and refusals are never on it.
 */
export function approvalJourney(workflow: WorkflowDefinition, endOfApproval: string): ApprovalJourney | null {
  const cameBy = new Map<string, Transition | null>([[workflow.initial, null]]);
  const queue = [workflow.initial];
  let approval: Transition | null = null;
  while (queue.length && !approval) {
    const state = queue.shift()!;
    for (const t of workflow.transitions) {
      if (!t.from.includes(state) || cameBy.has(t.to) || terminal(workflow, t.to)) continue;
      cameBy.set(t.to, { ...t, from: [state] });
      if (t.permission === 'carers:approve') {
        approval = cameBy.get(t.to)!;
        break;
      }
      queue.push(t.to);
    }
  }
  if (!approval) return null;
  const toApproval: Transition[] = [];
  for (let step: Transition | null = approval; step; step = cameBy.get(step.from[0]!) ?? null) toApproval.unshift(step);
  const approvedState = approval.to;
  const out = workflow.transitions.find(
    (t) => t.from.includes(approvedState) && t.to !== approvedState && !terminal(workflow, t.to),
  );
  const back = out && workflow.transitions.find((t) => t.from.includes(out.to) && t.to === approvedState);
  const endings = workflow.transitions.filter((t) => t.from.includes(approvedState) && terminal(workflow, t.to));
  return {
    workflowKey: workflow.key,
    toApproval,
    approvedState,
    review:
      out && back
        ? [
            { ...out, from: [approvedState] },
            { ...back, from: [out.to] },
          ]
        : null,
    ending: endings.find((t) => t.key === endOfApproval) ?? endings[0] ?? null,
  };
}
