import { PLANT_EXPRESSION } from './defaults.js';

/**
 * Narrows analyzer tables (anomalies, incidents, predictions) to the selected
 * plants, integrations and workflows. Rows about a whole workflow have no
 * integration and rows about one integration may have no workflow, so an empty
 * value matches every selection.
 */
export const ANALYZER_SCOPE_FILTER = `(integration IN (\${integration:singlequote}) OR integration = '')
    AND (workflow IN (\${workflow:singlequote}) OR workflow = '')
    AND ${PLANT_EXPRESSION} IN (\${plant:singlequote})`;
