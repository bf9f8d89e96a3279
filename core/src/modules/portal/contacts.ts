import type { FindScope } from '../../db/find';
import { User } from '../users/models';

/** A member of staff as a carer may reach them: name and email only (the portal's role sees staff rows alone). */
export async function staffContact(
  ctx: FindScope,
  userId: string | null,
): Promise<{ id: string; displayName: string; email: string } | null> {
  if (!userId) return null;
  const user = await User.query(ctx.trx)
    .where({ tenant_id: ctx.tenantId, id: userId, kind: 'staff', status: 'active' })
    .first()
    .select('id', 'display_name', 'email');
  return user ? { id: user.id, displayName: user.displayName, email: user.email } : null;
}
