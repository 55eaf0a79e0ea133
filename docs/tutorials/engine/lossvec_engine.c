/*
 * lossvec_engine.c: a small loss engine in C that speaks the lossvec-jsonl/1 protocol, so that refloss's
 * validator can check it against the golden vectors. It is the engine the tutorial "Validate a C engine" builds.
 *
 * Build (C99 and the math library, nothing else):
 *
 *     cc -std=c99 -O2 -Wall -Wextra -o lossvec_engine lossvec_engine.c -lm
 *
 * Check it:
 *
 *     refloss conformance check --impl exec:./lossvec_engine
 *
 * It implements l1_loss, mse_loss and smooth_l1_loss with their gradients, in float64 and float32. The hello line
 * lists exactly these: the validator then sends nothing else and reports every other loss, and the dtypes
 * float16 and bfloat16, as skipped. That is the honest answer for what an engine does not implement.
 *
 * The file has four parts: a minimal JSON reader (the requests use objects, arrays, strings, integers and
 * booleans only), tensors as IEEE bit patterns, the losses, and the request loop.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------------------------ */
/* A minimal JSON reader: enough for the requests of lossvec-jsonl/1.                                            */

typedef enum { J_NULL, J_BOOL, J_NUMBER, J_STRING, J_ARRAY, J_OBJECT } JsonType;

typedef struct Json {
    JsonType type;
    double number;           /* J_NUMBER, J_BOOL (0 or 1) */
    char *string;            /* J_STRING */
    int count;               /* J_ARRAY, J_OBJECT: number of items */
    char **keys;             /* J_OBJECT: the item names */
    struct Json **items;     /* J_ARRAY, J_OBJECT: the items */
} Json;

static Json *parse_value(const char **p);

static void skip_space(const char **p) {
    while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r') (*p)++;
}

static Json *new_node(JsonType type) {
    Json *node = calloc(1, sizeof *node);
    if (!node) { fprintf(stderr, "out of memory\n"); exit(2); }
    node->type = type;
    return node;
}

static void append(Json *node, char *key, Json *item) {
    node->items = realloc(node->items, (node->count + 1) * sizeof *node->items);
    node->keys = realloc(node->keys, (node->count + 1) * sizeof *node->keys);
    if (!node->items || !node->keys) { fprintf(stderr, "out of memory\n"); exit(2); }
    node->items[node->count] = item;
    node->keys[node->count] = key;
    node->count++;
}

/* A string without escapes other than \" and \\ (the requests hold names and hex digits only). */
static char *parse_string(const char **p) {
    const char *start = ++(*p);               /* after the opening quote */
    size_t length = 0;
    while ((*p)[0] && (*p)[0] != '"') { if ((*p)[0] == '\\' && (*p)[1]) (*p)++; (*p)++; length++; }
    char *out = malloc(length + 1), *o = out;
    for (const char *s = start; s < *p; s++) { if (*s == '\\') s++; *o++ = *s; }
    *o = '\0';
    if (**p == '"') (*p)++;
    return out;
}

static Json *parse_value(const char **p) {
    skip_space(p);
    Json *node;
    if (**p == '{' || **p == '[') {
        int is_object = **p == '{';
        char close = is_object ? '}' : ']';
        node = new_node(is_object ? J_OBJECT : J_ARRAY);
        (*p)++;
        skip_space(p);
        while (**p && **p != close) {
            char *key = NULL;
            if (is_object) {
                key = parse_string(p);
                skip_space(p);
                if (**p == ':') (*p)++;
            }
            append(node, key, parse_value(p));
            skip_space(p);
            if (**p == ',') (*p)++;
            skip_space(p);
        }
        if (**p == close) (*p)++;
    } else if (**p == '"') {
        node = new_node(J_STRING);
        node->string = parse_string(p);
    } else if (strncmp(*p, "true", 4) == 0 || strncmp(*p, "false", 5) == 0) {
        node = new_node(J_BOOL);
        node->number = **p == 't';
        *p += node->number ? 4 : 5;
    } else if (strncmp(*p, "null", 4) == 0) {
        node = new_node(J_NULL);
        *p += 4;
    } else {
        char *end;
        node = new_node(J_NUMBER);
        node->number = strtod(*p, &end);
        *p = end > *p ? end : *p + 1;          /* always move on, even past a character we do not know */
    }
    return node;
}

static void free_json(Json *node) {
    if (!node) return;
    for (int i = 0; i < node->count; i++) { free_json(node->items[i]); free(node->keys ? node->keys[i] : NULL); }
    free(node->items);
    free(node->keys);
    free(node->string);
    free(node);
}

/* The item called `key` of an object, or NULL. */
static Json *get(const Json *object, const char *key) {
    if (!object || object->type != J_OBJECT) return NULL;
    for (int i = 0; i < object->count; i++)
        if (strcmp(object->keys[i], key) == 0) return object->items[i];
    return NULL;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Tensors: a shape and values, sent and answered as IEEE bit patterns in hex.                                  */

#define MAX_DIMS 8

typedef struct {
    int rank;
    long shape[MAX_DIMS];
    long size;
    double *values;   /* float32 values are held in doubles: every float32 is exactly a double */
} Tensor;

typedef struct {
    int is_float32;   /* the request's dtype: 0 for float64, 1 for float32 */
} Precision;

/*
 * Round a result to the working precision. In float32 every operation is done in double and rounded to float32
 * at once: for +, -, * and / that gives the correctly rounded float32 result (double has more than twice float32's
 * 24 bits, so the double rounding is harmless). C leaves the conversion of a value beyond FLT_MAX undefined, so
 * overflow is rounded to infinity here, as IEEE arithmetic does.
 */
static double round_to(Precision precision, double x) {
    if (!precision.is_float32) return x;
    if (fabs(x) >= 0x1.ffffffp127) return copysign(INFINITY, x);   /* FLT_MAX plus half an ulp rounds up */
    return (double)(float)x;
}

static double from_bits(const char *hex, Precision precision) {
    unsigned long long pattern = strtoull(hex, NULL, 16);
    if (precision.is_float32) {
        uint32_t narrow = (uint32_t)pattern;
        float f;
        memcpy(&f, &narrow, sizeof f);
        return f;
    }
    uint64_t wide = pattern;
    double d;
    memcpy(&d, &wide, sizeof d);
    return d;
}

static void print_bits(double value, Precision precision) {
    if (precision.is_float32) {
        float f = (float)value;       /* exact: value is already a float32 */
        uint32_t narrow;
        memcpy(&narrow, &f, sizeof narrow);
        printf("\"%08lx\"", (unsigned long)narrow);
    } else {
        uint64_t wide;
        memcpy(&wide, &value, sizeof wide);
        printf("\"%016llx\"", (unsigned long long)wide);
    }
}

/* Decode {"shape": [...], "bits": [...]}; returns 0 if the tensor is malformed. */
static int decode(const Json *json, Precision precision, Tensor *out) {
    const Json *shape = get(json, "shape"), *bits = get(json, "bits");
    memset(out, 0, sizeof *out);
    if (!shape || !bits || shape->type != J_ARRAY || bits->type != J_ARRAY || shape->count > MAX_DIMS) return 0;
    out->rank = shape->count;
    out->size = 1;
    for (int i = 0; i < shape->count; i++) {
        out->shape[i] = (long)shape->items[i]->number;
        out->size *= out->shape[i];
    }
    if (out->size != bits->count) return 0;
    out->values = malloc((out->size ? out->size : 1) * sizeof *out->values);
    for (long i = 0; i < out->size; i++) out->values[i] = from_bits(bits->items[i]->string, precision);
    return 1;
}

static int same_shape(const Tensor *a, const Tensor *b) {
    if (a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++) if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

static void print_tensor(const long *shape, int rank, const double *values, long size, Precision precision) {
    printf("{\"shape\": [");
    for (int i = 0; i < rank; i++) printf(i ? ", %ld" : "%ld", shape[i]);
    printf("], \"bits\": [");
    for (long i = 0; i < size; i++) { if (i) printf(", "); print_bits(values[i], precision); }
    printf("]}");
}

/* ------------------------------------------------------------------------------------------------------------ */
/* The losses: each maps one residual d = input - target to its loss and its derivative d loss / d d.          */

typedef enum { L1, MSE, SMOOTH_L1, UNKNOWN } Loss;

static const char *const LOSS_NAMES[] = {"l1_loss", "mse_loss", "smooth_l1_loss"};

/* sign(d), 0 at 0 (refloss's and PyTorch's choice at the kink of |d|), NaN for NaN */
static double sign(double d) {
    if (isnan(d)) return d;
    return (d > 0) - (d < 0);
}

static void elementwise(Loss loss, double d, double beta, Precision p, double *value, double *slope) {
    double a = fabs(d);
    switch (loss) {
    case L1:
        *value = a;
        *slope = sign(d);
        break;
    case MSE:
        *value = round_to(p, d * d);
        *slope = round_to(p, 2 * d);
        break;
    case SMOOTH_L1:   /* 0.5 d^2 / beta below beta, |d| - 0.5 beta above; beta = 0 is plain L1 */
        if (a < beta) {
            *value = round_to(p, round_to(p, round_to(p, 0.5 * d) * d) / beta);
            *slope = round_to(p, d / beta);
        } else {
            *value = round_to(p, a - round_to(p, 0.5 * beta));
            *slope = sign(d);
        }
        break;
    default:
        *value = *slope = NAN;
    }
}

/* ------------------------------------------------------------------------------------------------------------ */
/* One request, one answer line.                                                                                 */

static void reject(long id, const char *category, const char *message) {
    printf("{\"id\": %ld, \"error\": {\"category\": \"%s\", \"message\": \"%s\"}}\n", id, category, message);
}

static void answer(const Json *request) {
    long id = (long)get(request, "id")->number;
    const Json *function = get(request, "function"), *dtype = get(request, "dtype");
    const Json *reduction_json = get(request, "reduction"), *params = get(request, "params");
    const Json *inputs = get(request, "inputs"), *grads = get(request, "grads"), *value_json = get(request, "value");
    Precision p = {strcmp(dtype->string, "float32") == 0};
    Loss loss = UNKNOWN;
    for (int i = 0; i < 3; i++) if (strcmp(function->string, LOSS_NAMES[i]) == 0) loss = (Loss)i;
    if (loss == UNKNOWN) {   /* the hello does not list it, so the validator never asks; answer honestly anyway */
        printf("{\"id\": %ld, \"error\": {\"category\": null, \"message\": \"not implemented\"}}\n", id);
        return;
    }

    /* Validate everything first, whatever is asked: an invalid call must be rejected by the forward and the VJP
     * alike. The categories are the suite's vocabulary (conformance/README.md). */
    Tensor input, target, weight = {0}, cotangent = {0};
    if (!decode(get(inputs, "input"), p, &input) || !decode(get(inputs, "target"), p, &target)) {
        reject(id, "shape_mismatch", "malformed input or target");
        return;
    }
    const char *reduction = reduction_json ? reduction_json->string : "mean";   /* absent: PyTorch's default */
    double beta = 1.0;
    const char *category = NULL, *message = NULL;
    if (!same_shape(&input, &target)) {
        category = "shape_mismatch", message = "target shape differs from input shape";
    } else if (strcmp(reduction, "none") && strcmp(reduction, "mean") && strcmp(reduction, "sum")) {
        category = "invalid_reduction", message = "reduction must be none, mean or sum";
    } else if (get(params, "beta")) {
        Tensor beta_tensor;
        decode(get(params, "beta"), p, &beta_tensor);
        beta = beta_tensor.values[0];
        free(beta_tensor.values);
        if (beta < 0) category = "invalid_parameter", message = "beta must be >= 0";
    }
    if (!category && get(params, "weight")) {
        decode(get(params, "weight"), p, &weight);
        if (!same_shape(&weight, &input)) category = "invalid_weight", message = "weight must be shaped like input";
        for (long i = 0; i < weight.size && !category; i++)
            if (!(weight.values[i] >= 0) || isinf(weight.values[i]))
                category = "invalid_weight", message = "weight must be finite and non-negative";
    }
    if (category) {
        reject(id, category, message);
        free(input.values), free(target.values), free(weight.values);
        return;
    }

    /* The elementwise losses and slopes, weighted. */
    long n = input.size;
    double *losses = malloc((n ? n : 1) * sizeof *losses), *slopes = malloc((n ? n : 1) * sizeof *slopes);
    for (long i = 0; i < n; i++) {
        double d = round_to(p, input.values[i] - target.values[i]);
        elementwise(loss, d, beta, p, &losses[i], &slopes[i]);
        if (weight.values) losses[i] = round_to(p, weight.values[i] * losses[i]);
    }
    /* The mean divides by the element count, or by the weight sum when there are weights (as PyTorch does). */
    double divisor = 1.0;
    if (strcmp(reduction, "mean") == 0) {
        divisor = (double)n;
        if (weight.values) {
            divisor = 0.0;
            for (long i = 0; i < n; i++) divisor = round_to(p, divisor + weight.values[i]);
        }
    }

    printf("{\"id\": %ld", id);
    if (!value_json || value_json->number) {
        printf(", \"value\": ");
        if (strcmp(reduction, "none") == 0) {
            print_tensor(input.shape, input.rank, losses, n, p);
        } else {
            double total = 0.0;   /* summed in order, in the working precision */
            for (long i = 0; i < n; i++) total = round_to(p, total + losses[i]);
            double reduced = round_to(p, total / divisor);   /* an empty mean is 0 / 0 = NaN, as in PyTorch */
            print_tensor(NULL, 0, &reduced, 1, p);
        }
    }
    if (grads && grads->count > 0) {
        decode(get(request, "cotangent"), p, &cotangent);
        double *grad_input = malloc((n ? n : 1) * sizeof *grad_input);
        double *grad_target = malloc((n ? n : 1) * sizeof *grad_target);
        for (long i = 0; i < n; i++) {
            /* d loss / d input_i = cotangent (per element for none) / divisor * weight_i * slope_i */
            double g = strcmp(reduction, "none") == 0 ? cotangent.values[i]
                                                      : round_to(p, cotangent.values[0] / divisor);
            if (weight.values) g = round_to(p, g * weight.values[i]);
            grad_input[i] = round_to(p, g * slopes[i]);
            grad_target[i] = -grad_input[i];   /* the residual is input - target */
        }
        printf(", \"grads\": {");
        for (int k = 0; k < grads->count; k++) {
            const char *name = grads->items[k]->string;
            printf(k ? ", \"%s\": " : "\"%s\": ", name);
            print_tensor(input.shape, input.rank, strcmp(name, "target") ? grad_input : grad_target, n, p);
        }
        printf("}");
        free(grad_input), free(grad_target), free(cotangent.values);
    }
    printf("}\n");
    free(losses), free(slopes), free(input.values), free(target.values), free(weight.values);
}

/* Read one line of any length from stdin; NULL at the end of input. */
static char *read_line(void) {
    size_t capacity = 4096, length = 0;
    char *line = malloc(capacity);
    int c;
    while ((c = getchar()) != EOF && c != '\n') {
        if (length + 1 == capacity) line = realloc(line, capacity *= 2);
        line[length++] = (char)c;
    }
    if (c == EOF && length == 0) { free(line); return NULL; }
    line[length] = '\0';
    return line;
}

int main(void) {
    printf("{\"protocol\": \"lossvec-jsonl/1\", \"name\": \"lossvec_engine.c tutorial engine\", "
           "\"functions\": [\"l1_loss\", \"mse_loss\", \"smooth_l1_loss\"], \"dtypes\": [\"float64\", \"float32\"]}\n");
    fflush(stdout);
    char *line;
    while ((line = read_line()) != NULL) {
        const char *cursor = line;
        Json *request = parse_value(&cursor);
        answer(request);
        fflush(stdout);   /* the validator waits for each answer before it sends the next request */
        free_json(request);
        free(line);
    }
    return 0;   /* stdin closed: every test is done */
}
