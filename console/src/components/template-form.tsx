/**
 * A form generated from a template's `params` schema: one labelled field per parameter, typed as
 * the schema says (text, number, whole number, checkbox), with its description, bounds and default.
 * Values are sent as typed; the server checks them and answers each problem at `params.<name>`,
 * which the field shows beside itself.
 */
import type { ErrorDetail, ParamSpec, TemplateSummary } from '../api/types.ts';

/** Props of TemplateForm. */
export interface TemplateFormProps {
  template: TemplateSummary;
  values: Record<string, string | boolean>;
  errors: readonly ErrorDetail[];
  onChange(name: string, value: string | boolean): void;
}

/** Turns the form's strings into the values the template expects; empty fields are left out. */
export function typedParams(template: TemplateSummary, values: Record<string, string | boolean>): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(template.params)) {
    const value = values[name];
    if (spec.type === 'boolean') {
      if (value !== undefined) params[name] = value === true;
      continue;
    }
    if (value === undefined || value === '') continue;
    const text = String(value);
    params[name] = spec.type === 'string' ? text : text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
  }
  return params;
}

function bounds(spec: ParamSpec): string {
  const unit = spec.type === 'string' ? ' characters' : '';
  if (spec.min !== undefined && spec.max !== undefined) return `${spec.min}..${spec.max}${unit}`;
  if (spec.min !== undefined) return `≥ ${spec.min}${unit}`;
  if (spec.max !== undefined) return `≤ ${spec.max}${unit}`;
  return '';
}

/** The generated fields. */
export function TemplateForm({ template, values, errors, onChange }: TemplateFormProps) {
  const entries = Object.entries(template.params);
  if (entries.length === 0) return <p class="muted">This template takes no parameters.</p>;
  return (
    <div class="param-fields">
      {entries.map(([name, spec]) => {
        const fieldErrors = errors.filter((e) => e.path === `params.${name}`);
        const id = `param-${name}`;
        const hint = [spec.type, bounds(spec), spec.default !== undefined ? `default ${String(spec.default)}` : '', spec.description ?? ''].filter(Boolean).join(' · ');
        return (
          <div class={`field${fieldErrors.length ? ' invalid' : ''}`} key={name}>
            <label for={id}>
              {name}
              {spec.required ? <span aria-label="required"> *</span> : null}
            </label>
            {spec.type === 'boolean' ? (
              <input id={id} name={name} type="checkbox" checked={values[name] === true || (values[name] === undefined && spec.default === true)} onChange={(e) => onChange(name, e.currentTarget.checked)} aria-describedby={`${id}-hint`} />
            ) : (
              <input
                id={id}
                name={name}
                // Text for every kind: the server, not the browser, says what is wrong and where.
                type="text"
                inputMode={spec.type === 'string' ? 'text' : spec.type === 'integer' ? 'numeric' : 'decimal'}
                value={String(values[name] ?? '')}
                placeholder={spec.default !== undefined ? String(spec.default) : ''}
                onInput={(e) => onChange(name, e.currentTarget.value)}
                aria-invalid={fieldErrors.length > 0}
                aria-describedby={`${id}-hint`}
              />
            )}
            <small id={`${id}-hint`} class="muted">
              {hint}
            </small>
            {fieldErrors.map((e, i) => (
              <p class="field-error" key={i}>
                <code class="path">{e.path}</code> {e.message}
              </p>
            ))}
          </div>
        );
      })}
    </div>
  );
}
