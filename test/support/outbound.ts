import { ownerRows, type World } from './harness';

/** The token in the link of the latest email queued for a recipient (an invitation or a password reset). */
export async function latestOutboundToken(world: World, tenantId: string, email: string): Promise<string> {
  const rows = await ownerRows<{ payload: { link: string } }>(
    world.db,
    tenantId,
    `SELECT payload FROM outbound_messages WHERE recipient = ? AND channel = 'email' ORDER BY created_at DESC, id DESC LIMIT 1`,
    [email],
  );
  if (!rows[0]) throw new Error(`no outbound message for ${email}`);
  return /[#&]token=([^&]+)/.exec(rows[0].payload.link)![1]!;
}
