# fuzz.mk — what each libFuzzer target links (included by the Makefile).
#
# The Makefile's rule `build/fuzz/%: tests/fuzz/%.c` compiles a target with
# clang -fsanitize=fuzzer,address,undefined and appends $(FUZZ_DEPS_<target>).
# Rather than naming the other modules' files one by one (they change while
# the tree grows), each module directory is compiled, instrumented for
# coverage and sanitizers, into its own static library under build/fuzz/lib,
# and a target links the libraries of the modules it exercises inside one
# linker group: only the objects it actually reaches are pulled in, so a
# runtime file in the same directory (fcgi/server.c, which needs the
# handlers) never has to link.
#
# Used by scripts/fuzz.sh; by hand: make build/fuzz/fuzz_xml

FUZZ_LIB_DIR := build/fuzz/lib
FUZZ_OBJ_DIR := build/fuzz/o
FUZZ_LIB_CFLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer-no-link,address,undefined -I. $(PKG_CFLAGS)

# The module directories a fuzz target may link, each as lib<dir>.a.
FUZZ_MODULES := common fcgi ml bundle handlers cli

define fuzz_module_lib
FUZZ_SRCS_$(1) := $$(filter-out %/main.c,$$(wildcard $(1)/*.c))
FUZZ_OBJS_$(1) := $$(FUZZ_SRCS_$(1):%.c=$(FUZZ_OBJ_DIR)/%.o)
$(FUZZ_LIB_DIR)/lib$(1).a: $$(FUZZ_OBJS_$(1))
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach m,$(FUZZ_MODULES),$(eval $(call fuzz_module_lib,$(m))))

$(FUZZ_OBJ_DIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_LIB_CFLAGS) -MMD -MP -c $< -o $@

-include $(shell find $(FUZZ_OBJ_DIR) -name '*.d' 2>/dev/null)

# fuzz_module_libs(dirs): the libraries, in one group so their order is free.
fuzz_module_libs = -Wl,--start-group $(foreach m,$(1),$(FUZZ_LIB_DIR)/lib$(m).a) -Wl,--end-group
fuzz_module_files = $(foreach m,$(1),$(FUZZ_LIB_DIR)/lib$(m).a)

FUZZ_MODS_fuzz_json := fcgi common
FUZZ_MODS_fuzz_xml := fcgi common
FUZZ_MODS_fuzz_form := fcgi common
FUZZ_MODS_fuzz_bodyscan := fcgi common
FUZZ_MODS_fuzz_multipart := fcgi common
FUZZ_MODS_fuzz_router := fcgi common
FUZZ_MODS_fuzz_log := common
FUZZ_MODS_fuzz_sse := common
FUZZ_MODS_fuzz_validate := fcgi common
FUZZ_MODS_fuzz_csv := ml common
FUZZ_MODS_fuzz_treeshap := ml common
FUZZ_MODS_fuzz_rowjson := ml fcgi common
FUZZ_MODS_fuzz_numfmt := ml common
FUZZ_MODS_fuzz_rowcsv := ml common
FUZZ_MODS_fuzz_bundle := bundle common
# Only handlers/strapi_query.o is pulled from libhandlers.a (it needs common).
FUZZ_MODS_fuzz_strapi_query := handlers common
# cli/predict.o (the CSV writer) and cli/config.o; libcurl comes with PKG_LIBS.
FUZZ_MODS_fuzz_cli := cli ml common

FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))

define fuzz_target_deps
FUZZ_DEPS_$(1) := $$(call fuzz_module_libs,$$(FUZZ_MODS_$(1)))
build/fuzz/$(1): $$(call fuzz_module_files,$$(FUZZ_MODS_$(1)))
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_target_deps,$(t))))

.PHONY: fuzz-build
fuzz-build: $(FUZZ_TARGETS:%=build/fuzz/%)
