export { compileTemplate, renderHtml, TemplateRenderError } from './renderHtml';
export {
  documentFor,
  documentOfKind,
  DocumentTemplateError,
  type DocumentTemplate,
  type EffectiveConfiguration,
  type TemplateKind,
} from './documentFor';
export { htmlToPdf, pageSizeFor, type PageSize, type PdfOptions } from './htmlToPdf';
export { formatDocumentDate, formatMoney } from './formatting';
export type {
  AnnualStatementView,
  BillToView,
  ChargeLineView,
  CreditNoteView,
  InvoiceView,
  RemittanceView,
  StatementView,
  ViewModels,
} from './viewModels';
export { documentResult, type DocumentRequest } from './documentResult';
