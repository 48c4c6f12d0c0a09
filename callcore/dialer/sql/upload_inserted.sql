SELECT inserted FROM upload_params
