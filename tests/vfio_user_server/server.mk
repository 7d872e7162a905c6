# The vfio-user test server (tests/vfio_user_server/README.md): built with the
# tests, run by the vfio-user guest tests. Included by the top Makefile.
VFU_SERVER := $(BUILD)/tests/vfio-user-test-server
$(VFU_SERVER): tests/vfio_user_server/main.c tests/vfio_user_server/server.c $(BUILD)/libminivmm.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libminivmm.a $(LDLIBS)
TEST_DEPS += $(VFU_SERVER)
