import { defineOperations, type OperationResult, type TenantContext } from '../../http/operation';
import { created } from '../../http/results';
import { generateDocument } from './generate';
import { documentToApi } from './service';

async function generate(ctx: TenantContext<'generateDocument'>): Promise<OperationResult> {
  const { document, current } = await generateDocument(ctx, ctx.body);
  return created(documentToApi(document, current), {
    location: `/v1/documents/${document.id}`,
    version: document.version,
  });
}

export const documentGenerationOperations = defineOperations({
  generateDocument: { access: { permission: 'documents:upload' }, handle: generate },
});
